"""Shared pytest fixtures.

``toy_cityscapes_root`` (session scope): path (str) of a tiny synthetic Cityscapes made once per
test session by ``paddleseg_panoptic.datasets.toy_cityscapes.make_toy_cityscapes`` (the code
behind ``tools/make_toy_cityscapes.py``) in its default ``"easy"`` style (one colour per class,
outlined instances): 4 train + 2 val images of 128x256 (H x W), seed 0,
cities aachen/bremen (train) and frankfurt (val), already converted to panoptic train ids::

    {root}/leftImg8bit/{train,val}/{city}/{city}_{seq:06d}_000019_leftImg8bit.png
    {root}/gtFine/{train,val}/{city}/..._gtFine_{labelIds,instanceIds,labelTrainIds,color}.png
    {root}/gtFine/cityscapes_panoptic_{train,val}_trainId.json
    {root}/gtFine/cityscapes_panoptic_{train,val}_trainId/..._gtFine_panoptic.png

Use it as ``CityscapesPanoptic(transforms, dataset_root=toy_cityscapes_root, mode=...)``. Treat
it as read-only: it is shared by every test of the session (copy it to change files).

``load_tool``: a function that imports ``tools/<name>.py`` as a module, the way
``python tools/<name>.py`` sees its folder (so its ``import _package`` works).
"""
# Before any test module imports paddle: with Paddle 2.6, cv2 imported after paddle crashes on
# PNG files (see paddleseg_panoptic/_opencv.py).
import paddleseg_panoptic  # noqa: F401  isort: skip
import importlib.util
import os

import pytest

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")

TOY_NUM_TRAIN = 4
TOY_NUM_VAL = 2
TOY_HEIGHT = 128
TOY_WIDTH = 256


@pytest.fixture(scope="session")
def toy_cityscapes_root(tmp_path_factory):
    from paddleseg_panoptic.datasets.toy_cityscapes import make_toy_cityscapes

    root = tmp_path_factory.mktemp("toy_cityscapes")
    make_toy_cityscapes(str(root), num_train=TOY_NUM_TRAIN, num_val=TOY_NUM_VAL,
                        height=TOY_HEIGHT, width=TOY_WIDTH, seed=0)
    return str(root)


@pytest.fixture
def load_tool(monkeypatch):
    def load(name):
        monkeypatch.syspath_prepend(TOOLS)
        spec = importlib.util.spec_from_file_location(name + "_tool",
                                                      os.path.join(TOOLS, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


TOY_COCO_NUM_TRAIN = 4
TOY_COCO_NUM_VAL = 4


@pytest.fixture(scope="session")
def toy_coco_root(tmp_path_factory):
    """A tiny non-Cityscapes set in the COCO panoptic format, made once per session by
    ``paddleseg_panoptic.datasets.toy_coco.make_toy_coco`` (``tools/make_toy_coco.py``):
    categories 3, 7, 12 (stuff) and 21, 34, 40 (things), images of 96x160 and 128x128 (H x W)
    in turn, ``annotations/panoptic_{train,val}.json``, ``images/{split}/*.jpg``,
    ``panoptic/{split}/*.png``. Read-only (copy it to change files)."""
    from paddleseg_panoptic.datasets.toy_coco import make_toy_coco

    root = tmp_path_factory.mktemp("toy_coco")
    make_toy_coco(str(root), num_train=TOY_COCO_NUM_TRAIN, num_val=TOY_COCO_NUM_VAL, seed=0)
    return str(root)
