"""Centre finding: hand-made heatmaps with known centres, then random ones vs the reference implementation."""
import numpy as np
import paddle
import pytest

from paddleseg_panoptic.postprocess import defaults, find_instance_center, reference
from paddleseg_panoptic.postprocess.centers import _find_centers_paddle


def heatmap(height, width, peaks):
    """[1, H, W] float32 map, zero except ``{(y, x): value}``."""
    h = np.zeros((1, height, width), dtype=np.float32)
    for (y, x), v in peaks.items():
        h[0, y, x] = v
    return h


def test_defaults_are_the_documented_ones():
    assert (defaults.THRESHOLD, defaults.NMS_KERNEL, defaults.TOP_K) == (0.1, 7, 200)


def test_nms_keeps_one_of_two_close_peaks():
    # Peaks 2 columns apart: within each other's 7x7 window, so only the higher (4, 4) stays.
    h = heatmap(9, 9, {(4, 4): 0.9, (4, 6): 0.8})
    np.testing.assert_array_equal(find_instance_center(h), [[4, 4]])
    # A 3x3 window no longer covers both: both are local maxima, listed row-major.
    np.testing.assert_array_equal(find_instance_center(h, nms_kernel=3), [[4, 4], [4, 6]])


def test_plateau_keeps_every_equal_pixel():
    # Two neighbours with the same value: each equals its window's maximum, both are centres.
    h = heatmap(5, 5, {(2, 2): 0.5, (2, 3): 0.5})
    np.testing.assert_array_equal(find_instance_center(h, nms_kernel=3), [[2, 2], [2, 3]])


def test_threshold_is_strict():
    # 0.1 is not above the default threshold 0.1 and 0.05 is below it: only (5, 5) with 0.11.
    h = heatmap(20, 20, {(1, 1): 0.1, (10, 10): 0.05, (5, 15): 0.11})
    np.testing.assert_array_equal(find_instance_center(h), [[5, 15]])


def test_no_centre_returns_none():
    assert find_instance_center(np.zeros((1, 6, 6), np.float32)) is None
    # Negative values and values below the threshold never make a centre.
    assert find_instance_center(np.full((1, 6, 6), -0.3, np.float32)) is None
    assert find_instance_center(heatmap(6, 6, {(3, 3): 0.09})) is None


def test_top_k_keeps_values_strictly_greater_than_the_kth():
    # Three isolated peaks 0.9 (2, 2), 0.7 (2, 12), 0.5 (12, 7); 20x20, far apart.
    h = heatmap(20, 20, {(2, 2): 0.9, (2, 12): 0.7, (12, 7): 0.5})
    # top_k=3: t = 3rd largest = 0.5, strictly greater keeps 0.9 and 0.7 only.
    np.testing.assert_array_equal(find_instance_center(h, top_k=3), [[2, 2], [2, 12]])
    # top_k=4: the 4th largest value of the map is a zero, so all three peaks are kept.
    np.testing.assert_array_equal(find_instance_center(h, top_k=4),
                                  [[2, 2], [2, 12], [12, 7]])
    # top_k=2: t = 0.7, only 0.9 remains; top_k=1: t = 0.9, nothing is greater.
    np.testing.assert_array_equal(find_instance_center(h, top_k=2), [[2, 2]])
    assert find_instance_center(h, top_k=1) is None
    # top_k=None: no limit.
    np.testing.assert_array_equal(find_instance_center(h, top_k=None),
                                  [[2, 2], [2, 12], [12, 7]])


def test_top_k_tie_at_the_cut_drops_every_tied_peak():
    # Peaks 0.9, 0.7, 0.7: top_k=2 gives t = 0.7 and both 0.7 peaks are not strictly greater.
    h = heatmap(20, 20, {(2, 2): 0.7, (2, 12): 0.9, (12, 7): 0.7})
    np.testing.assert_array_equal(find_instance_center(h, top_k=2), [[2, 12]])


def test_row_major_order_and_border_peak():
    # A peak on the border survives (zero padding); output is sorted by row, then column.
    h = heatmap(10, 10, {(9, 0): 0.6, (0, 9): 0.4})
    np.testing.assert_array_equal(find_instance_center(h), [[0, 9], [9, 0]])


@pytest.mark.parametrize("bad, kwargs, match", [
    (np.zeros((5, 5), np.float32), {}, "ctr_hmp"),
    (np.zeros((2, 5, 5), np.float32), {}, "ctr_hmp"),
    (np.zeros((1, 5, 5), np.float32), {"nms_kernel": 4}, "nms_kernel"),
    (np.zeros((1, 5, 5), np.float32), {"top_k": 0}, "top_k"),
    (np.zeros((1, 5, 5), np.float32), {"threshold": "x"}, "threshold"),
])
def test_bad_input_raises(bad, kwargs, match):
    with pytest.raises(ValueError, match=match):
        find_instance_center(bad, **kwargs)


def random_heatmap(rng, height, width):
    h = rng.random((1, height, width)).astype(np.float32)
    h[h < 0.6] = 0
    h = np.round(h * 8) / 8  # coarse values: many plateaus and ties at the top-k cut
    return (h - 0.05 * (rng.random() < 0.3)).astype(np.float32)


def test_random_equals_reference_numpy_and_paddle():
    rng = np.random.default_rng(1)
    for _ in range(40):
        height, width = rng.integers(3, 14, size=2)
        h = random_heatmap(rng, height, width)
        threshold = float(rng.choice([0.1, 0.3, -0.1]))
        kernel = int(rng.choice([1, 3, 5, 7]))
        top_k = [None, 1, 2, 5, 10, 400][rng.integers(6)]
        want = reference.find_centers(h, threshold, kernel, top_k)
        got = find_instance_center(h, threshold, kernel, top_k)
        tensor = find_instance_center(paddle.to_tensor(h), threshold, kernel, top_k)
        native = _find_centers_paddle(paddle.to_tensor(h), threshold, kernel, top_k)
        if want is None:
            assert got is None and tensor is None and native is None
            continue
        assert got.dtype == np.int64 and isinstance(tensor, paddle.Tensor)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(tensor.numpy(), want)
        assert native.dtype == paddle.int64
        np.testing.assert_array_equal(native.numpy(), want)


def test_peaks_across_tile_borders_match_the_reference():
    # Maps larger than the 32-pixel tiles of the numpy implementation, with sparse peaks so
    # that some tiles are skipped and windows straddle tile borders.
    rng = np.random.default_rng(7)
    for height, width in ((45, 70), (64, 33), (33, 97)):
        h = np.zeros((1, height, width), np.float32)
        n = 25
        ys, xs = rng.integers(0, height, n), rng.integers(0, width, n)
        h[0, ys, xs] = np.round(rng.random(n) * 4) / 4 + 0.25
        h[0, 31:33, :] = np.maximum(h[0, 31:33, :], 0.3)  # a ridge along a tile border
        for kernel, top_k in ((7, 200), (3, 6), (5, None)):
            want = reference.find_centers(h, 0.1, kernel, top_k)
            got = find_instance_center(h, 0.1, kernel, top_k)
            assert (got is None) == (want is None)
            if want is not None:
                np.testing.assert_array_equal(got, want)


def test_tiles_above_matches_a_padded_reshape():
    from paddleseg_panoptic.postprocess.centers import _tiles_above
    rng = np.random.default_rng(11)
    for _ in range(200):
        height, width = (int(v) for v in rng.integers(1, 70, size=2))
        t = int(rng.integers(1, 40))
        values = rng.random((height, width)).astype(np.float32)
        values[rng.random((height, width)) < 0.01] = np.nan
        threshold = np.float32(1.0 - rng.choice([0.002, 0.02, 0.3]))
        ty, tx = -(-height // t), -(-width // t)
        padded = np.zeros((ty * t, tx * t), bool)
        padded[:height, :width] = values > threshold
        want = padded.reshape(ty, t, tx, t).any(axis=(1, 3))
        np.testing.assert_array_equal(_tiles_above(values, t, threshold), want)


def test_peaks_at_the_image_border_and_non_finite_values():
    # Tiles at the image border gather their halo with clipped indices; the clipped copies
    # must count as zero padding. A peak in each corner and on each edge, a larger value just
    # outside a peak's window, NaN and -inf (never centres, never suppress a neighbour).
    h = np.zeros((1, 37, 70), np.float32)
    for (y, x), v in {(0, 0): 0.9, (0, 69): 0.8, (36, 0): 0.7, (36, 69): 0.6, (0, 35): 0.5,
                      (18, 0): 0.4, (4, 4): 1.0, (20, 20): 0.3}.items():
        h[0, y, x] = v
    h[0, 21, 21], h[0, 36, 68] = np.nan, -np.inf
    for kernel, top_k in ((7, 200), (9, None), (3, 4)):
        want = reference.find_centers(h, 0.1, kernel, top_k)
        got = find_instance_center(h, 0.1, kernel, top_k)
        np.testing.assert_array_equal(got, want)
    # (4, 4) = 1.0 is 4 rows and columns from (0, 0) = 0.9: outside its 7x7 window (radius
    # 3), so both stay; inside its 9x9 window (radius 4), which suppresses (0, 0).
    assert [0, 0] in find_instance_center(h, 0.1, 7, None).tolist()
    assert [0, 0] not in find_instance_center(h, 0.1, 9, None).tolist()
