"""Panoptic-DeepLab on PaddlePaddle.

Importing the package registers its components (models, datasets, transforms, losses) in
paddleseg's component managers, so configs can name them.
"""
__version__ = "0.1.0"

from . import cvlibs, datasets, evaluation, losses, models, postprocess, transforms, utils  # noqa: F401,E402
