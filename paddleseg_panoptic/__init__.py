"""Panoptic-DeepLab on PaddlePaddle.

Importing the package registers its components (models, datasets, transforms, losses) in
paddleseg's component managers, so configs can name them.
"""
__version__ = "0.1.0"

# OpenCV before anything that imports Paddle: Paddle 2.6 otherwise crashes on PNG files.
from . import _opencv  # noqa: F401,E402  isort: skip
from . import cvlibs, datasets, evaluation, losses, models, postprocess, transforms, utils  # noqa: F401,E402
