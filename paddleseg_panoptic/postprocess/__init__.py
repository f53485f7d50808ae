"""Post-processing of Panoptic-DeepLab outputs: pure functions over numpy arrays or Tensors."""
from . import defaults, reference
from .centers import find_instance_center
from .defaults import NMS_KERNEL, THRESHOLD, TOP_K
from .fusion import merge_semantic_and_instance
from .grouping import get_instance_segmentation, group_pixels
from .inference import panoptic_postprocess

__all__ = [
    "defaults", "reference", "THRESHOLD", "NMS_KERNEL", "TOP_K", "find_instance_center", "group_pixels",
    "get_instance_segmentation", "merge_semantic_and_instance", "panoptic_postprocess",
]
