"""paddleseg_panoptic.transforms: training targets and evaluation labels."""
from paddleseg_panoptic.transforms.padding import PadToDivisor  # noqa: F401
from paddleseg_panoptic.transforms.raw_labels import (  # noqa: F401
    raw_instance, raw_panoptic, raw_semantic)
from paddleseg_panoptic.transforms.target_generator import PanopticTargetGenerator  # noqa: F401
from paddleseg_panoptic.utils.panoptic_ids import rgb2id  # noqa: F401
