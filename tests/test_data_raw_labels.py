"""Evaluation labels from a stored panoptic PNG: hand-made values and equality with the slow
per-segment versions."""
import numpy as np
import pytest

from paddleseg_panoptic.transforms import raw_instance, raw_panoptic, raw_semantic

from data_slow_reference import slow_raw_instance, slow_raw_panoptic, slow_raw_semantic
from test_data_targets import IDS, SEGMENTS, random_label, to_rgb


def test_hand_made_raw_labels():
    rgb = to_rgb(IDS)
    # Semantic: listed segments get their train id (crowd 24 -> 11), void 0 and 5 -> 255.
    sem = raw_semantic(rgb, SEGMENTS)
    assert sem.dtype == np.int64 and sem.shape == IDS.shape
    assert (sem[0, 0], sem[1, 1], sem[1, 6], sem[4, 0], sem[2, 4], sem[3, 5]) == \
        (0, 13, 11, 11, 255, 255)
    # Instances: ids above 1000 present in the image, in ascending order:
    # 24001 -> 1, 26000 -> 2, 26001 -> 3 (26005 is absent); everything else 0.
    ins = raw_instance(rgb)
    expected = np.select([IDS == 24001, IDS == 26000, IDS == 26001], [1, 2, 3], 0)
    np.testing.assert_array_equal(ins, expected)
    assert ins.dtype == np.int64
    # Panoptic: stuff and crowd -> train id; instances -> train id * 1000 + id % 1000.
    pan = raw_panoptic(rgb, SEGMENTS)
    assert (pan[0, 0], pan[0, 4], pan[1, 6], pan[1, 1], pan[5, 1], pan[4, 0], pan[2, 4]) == \
        (0, 10, 11, 13000, 13001, 11001, 255)
    assert pan.dtype == np.int64


@pytest.mark.parametrize("seed", range(4))
def test_raw_labels_equal_the_per_segment_versions(seed):
    rng = np.random.default_rng(100 + seed)
    rgb, segments = random_label(rng, 37, 53, num_things=int(rng.integers(0, 20)))
    np.testing.assert_array_equal(raw_semantic(rgb, segments), slow_raw_semantic(rgb, segments))
    np.testing.assert_array_equal(raw_instance(rgb), slow_raw_instance(rgb))
    np.testing.assert_array_equal(raw_panoptic(rgb, segments), slow_raw_panoptic(rgb, segments))


def test_raw_instance_numbers_ids_from_1000():
    # Ids from 1000 up are instances (1000: instance 0 of class 1, as cityscapesScripts reads
    # it); 999 is stuff or crowd.
    ids = np.array([[1000, 1001, 999], [33005, 1001, 0]])
    np.testing.assert_array_equal(raw_instance(to_rgb(ids)), [[1, 2, 0], [3, 2, 0]])
    np.testing.assert_array_equal(raw_instance(ids), raw_instance(to_rgb(ids)))  # id maps too
