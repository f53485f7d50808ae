"""paddleseg_panoptic.datasets."""
