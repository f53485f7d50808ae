"""Models; importing this package registers ``PanopticDeepLab`` in paddleseg's MODELS."""
from .panoptic_deeplab import PanopticDeepLab, offset_upsample_scale  # noqa: F401
