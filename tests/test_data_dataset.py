"""CityscapesPanoptic on the tiny toy set: lengths, dtypes, shapes, raw labels, transforms."""
import numpy as np
import paddleseg.transforms as T
import pytest

from paddleseg_panoptic.datasets import CityscapesPanoptic

from conftest import TOY_HEIGHT, TOY_NUM_TRAIN, TOY_NUM_VAL, TOY_WIDTH

TRAIN_SPEC = {
    "image": (np.float32, (3, TOY_HEIGHT, TOY_WIDTH)),
    "semantic": (np.int64, (TOY_HEIGHT, TOY_WIDTH)),
    "semantic_weights": (np.float32, (TOY_HEIGHT, TOY_WIDTH)),
    "center": (np.float32, (1, TOY_HEIGHT, TOY_WIDTH)),
    "center_weights": (np.float32, (TOY_HEIGHT, TOY_WIDTH)),
    "offset": (np.float32, (2, TOY_HEIGHT, TOY_WIDTH)),
    "offset_weights": (np.float32, (TOY_HEIGHT, TOY_WIDTH)),
    "foreground": (np.int64, (TOY_HEIGHT, TOY_WIDTH)),
}


def test_train_samples_have_the_documented_keys_dtypes_and_shapes(toy_cityscapes_root):
    ds = CityscapesPanoptic([T.Normalize()], toy_cityscapes_root, mode="train")
    assert len(ds) == TOY_NUM_TRAIN
    sample = ds[0]
    assert set(sample) == set(TRAIN_SPEC)
    for key, (dtype, shape) in TRAIN_SPEC.items():
        assert sample[key].dtype == dtype, key
        assert sample[key].shape == shape, key
    assert -1.0 <= sample["image"].min() and sample["image"].max() <= 1.0
    assert set(np.unique(sample["foreground"])) == {0, 1}
