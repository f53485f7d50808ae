"""paddleseg_panoptic.transforms."""
