"""paddleseg_panoptic.datasets: COCO-panoptic-format datasets (any categories; Cityscapes is one
case), their preparation and small synthetic sets."""
from paddleseg_panoptic.datasets.panoptic import PanopticDataset  # noqa: F401
from paddleseg_panoptic.datasets.cityscapes_panoptic import CityscapesPanoptic  # noqa: F401
from paddleseg_panoptic.datasets.prepare import prepare_cityscapes  # noqa: F401
from paddleseg_panoptic.datasets.toy_cityscapes import make_toy_cityscapes  # noqa: F401
