"""paddleseg_panoptic.models."""
