"""paddleseg_panoptic.evaluation."""
