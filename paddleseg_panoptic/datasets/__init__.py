"""paddleseg_panoptic.datasets: Cityscapes panoptic dataset, its preparation and a toy set."""
from paddleseg_panoptic.datasets.cityscapes_panoptic import CityscapesPanoptic  # noqa: F401
