"""Panoptic ids: the decoding rule at its boundary, RGB round trips, id tables, scores."""
import numpy as np
import paddle
import pytest

from paddleseg_panoptic.utils.panoptic_ids import (
    class_map, compact_ids, decode, encode, has_instance, id2rgb, instance_scores, rgb2id)


def test_decode_boundary_is_the_label_divisor():
    # 999: a class without instance; 1000: instance 0 of class 1 (the boundary belongs to the
    # instances, as Cityscapes numbers instances from 0); 13000 / 13001: instances of 13.
    ids = np.array([0, 11, 255, 999, 1000, 13000, 13001, 18999])
    classes, numbers = decode(ids, 1000)
    assert classes.tolist() == [0, 11, 255, 999, 1, 13, 13, 18]
    assert numbers.tolist() == [0, 0, 0, 0, 0, 0, 1, 999]
    assert has_instance(ids, 1000).tolist() == [False] * 4 + [True] * 4
    inst = has_instance(ids, 1000)
    np.testing.assert_array_equal(encode(classes[inst], numbers[inst], 1000), ids[inst])
    assert int(encode(7, 3, 256)) == 7 * 256 + 3
    # class map: 255 stays 255 whatever the divisor
    assert class_map(np.array([[255, 13001], [1000, 7]]), 100, 255).tolist() == [
        [255, 130], [10, 7]]


def test_rgb_round_trip_hand_values_and_limits():
    ids = np.array([[0, 255, 13001], [256 ** 3 - 1, 65536, 18999]])
    rgb = id2rgb(ids)
    assert rgb.dtype == np.uint8
    assert tuple(rgb[0, 2]) == (201, 50, 0)  # 13001 = 201 + 256 * 50
    assert tuple(rgb[1, 1]) == (0, 0, 1)
    assert tuple(rgb[1, 0]) == (255, 255, 255)
    assert rgb2id(rgb).tolist() == ids.tolist()
    assert rgb2id(rgb.astype(np.int64)).tolist() == ids.tolist()  # the non-uint8 path
    assert rgb2id((201, 50, 0)) == 13001
    for bad in (-1, 256 ** 3):
        with pytest.raises(ValueError, match="must lie in"):
            id2rgb(np.array([[bad]]))
    with pytest.raises(ValueError, match="2 dimensions"):
        id2rgb(np.zeros(3))


@pytest.mark.parametrize("offset", [0, 1 << 40, -(1 << 40)])
def test_compact_ids_dense_and_sorted_paths_agree(offset):
    # offset 0 takes the dense table; huge or negative ids take np.unique.
    rng = np.random.default_rng(3)
    values = rng.choice([0, 2, 255, 11001, 11002, 13001], size=(9, 11)).astype(np.int64)
    ids, index, counts = compact_ids(values + offset)
    want_ids, want_counts = np.unique(values + offset, return_counts=True)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(counts, want_counts)
    np.testing.assert_array_equal(ids[index], values + offset)
    empty = compact_ids(np.zeros((0, 4), np.int64))
    assert [a.shape for a in empty] == [(0,), (0, 4), (0,)]


def slow_scores(panoptic, softmax, label_divisor):
    """Obvious version: one mask per predicted instance (number >= 1)."""
    out = {}
    for v in np.unique(panoptic):
        if v >= label_divisor and v % label_divisor:
            out[int(v)] = float(softmax[v // label_divisor][panoptic == v].astype(np.float64).mean())
    return out


def test_instance_scores_hand_case_and_random_maps():
    # Class 1 instance 1001 on two pixels with p(1) = 0.2 and 0.6 -> 0.4; 2003 on one pixel
    # with p(2) = 0.5. 1000 (number 0) and the stuff 0 get no score.
    panoptic = np.array([[1001, 1001, 2003, 1000, 0]])
    softmax = np.zeros((3, 1, 5), np.float32)
    softmax[1, 0, :2] = [0.2, 0.6]
    softmax[2, 0, 2] = 0.5
    ids, classes, scores, index = instance_scores(panoptic, 1000, softmax)
    assert ids.tolist() == [1001, 2003] and classes.tolist() == [1, 2]
    np.testing.assert_allclose(scores, [0.4, 0.5])
    assert index.tolist() == [[0, 0, 1, -1, -1]]
    ids_t, _, scores_t, _ = instance_scores(paddle.to_tensor(panoptic), 1000,
                                            paddle.to_tensor(softmax))
    assert ids_t.tolist() == ids.tolist() and scores_t.tolist() == scores.tolist()
    rng = np.random.default_rng(4)
    for _ in range(5):
        pan = rng.choice([0, 5, 1001, 1002, 2001, 2000, 3007], size=(6, 7))
        soft = rng.random((4, 6, 7)).astype(np.float32)
        ids, _, scores, _ = instance_scores(pan, 1000, soft)
        assert dict(zip(ids.tolist(), scores.tolist())) == pytest.approx(
            slow_scores(pan, soft, 1000), rel=1e-12)
    with pytest.raises(ValueError, match="instance id 3007 of class 3 but semantic_softmax has 3"):
        instance_scores(np.array([[3007]]), 1000, np.zeros((3, 1, 1), np.float32))
    with pytest.raises(ValueError, match="semantic_softmax must be"):
        instance_scores(np.zeros((2, 2), np.int64), 1000, np.zeros((3, 2, 3), np.float32))
