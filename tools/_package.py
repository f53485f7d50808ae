"""Import ``paddleseg_panoptic`` for the tools: the installed package, else this checkout's.

Every tool imports this module first, so ``python tools/<tool>.py`` works from a checkout
without ``pip install -e .``.
"""
import os
import sys

try:
    import paddleseg_panoptic  # noqa: F401
except ImportError:  # not installed: use the checkout this file lives in
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import paddleseg_panoptic  # noqa: F401
