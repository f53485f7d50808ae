"""paddleseg_panoptic.utils."""
