"""paddleseg_panoptic.losses."""
from .panoptic_loss import PanopticLoss, build_panoptic_loss  # noqa: F401
