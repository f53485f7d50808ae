"""paddleseg_panoptic.postprocess."""
