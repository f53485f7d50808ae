"""paddleseg_panoptic.core."""
