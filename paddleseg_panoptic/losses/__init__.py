"""paddleseg_panoptic.losses."""
