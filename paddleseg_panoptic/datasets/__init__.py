"""paddleseg_panoptic.datasets: Cityscapes panoptic dataset, its preparation and a toy set."""
from paddleseg_panoptic.datasets.cityscapes_panoptic import CityscapesPanoptic  # noqa: F401
from paddleseg_panoptic.datasets.prepare import prepare_cityscapes  # noqa: F401
from paddleseg_panoptic.datasets.toy_cityscapes import make_toy_cityscapes  # noqa: F401
