"""paddleseg_panoptic.cvlibs."""
