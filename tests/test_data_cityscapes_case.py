"""CityscapesPanoptic is the Cityscapes case of PanopticDataset and gives, sample for sample,
what it gave before PanopticDataset existed (``data_cityscapes_before.py``)."""
import random

import numpy as np
import paddleseg.transforms as T
import pytest

from paddleseg_panoptic.datasets import CityscapesPanoptic, PanopticDataset

from data_cityscapes_before import CityscapesPanopticBefore


def seed(value):
    """paddleseg's augmentations draw from Python's and numpy's global generators."""
    random.seed(value)
    np.random.seed(value)


def augmentations():
    return [T.ResizeStepScaling(0.75, 1.25, 0.25),
            T.RandomPaddingCrop(crop_size=[200, 100], label_padding_value=[0, 0, 0]),
            T.RandomHorizontalFlip(), T.Normalize()]


@pytest.mark.parametrize("mode", ["train", "val"])
def test_samples_and_records_identical_to_before(toy_cityscapes_root, mode):
    if mode == "train":
        transforms = augmentations
    else:
        def transforms():
            return [T.Padding(target_size=[257, 129], label_padding_value=[0, 0, 0]),
                    T.Normalize()]
    new = CityscapesPanoptic(transforms(), toy_cityscapes_root, mode=mode,
                             ignore_stuff_in_offset=True, small_instance_area=256,
                             small_instance_weight=3)
    old = CityscapesPanopticBefore(transforms(), toy_cityscapes_root, mode=mode,
                                   ignore_stuff_in_offset=True, small_instance_area=256,
                                   small_instance_weight=3)
    assert isinstance(new, PanopticDataset)
    assert new.records == old.records and new.file_list == old.file_list
    for i in range(len(old)):
        seed(i)
        before = old[i]
        seed(i)
        after = new[i]
        assert set(after) == set(before)
        for key in before:
            assert after[key].dtype == before[key].dtype, key
            np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    for attr in ("NUM_CLASSES", "IGNORE_INDEX", "thing_list", "label_divisor", "class_names",
                 "palette", "stuff_area", "num_classes", "ignore_index"):
        assert getattr(new, attr) == getattr(old, attr), attr
