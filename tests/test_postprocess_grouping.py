"""Pixel grouping and instance segmentation: hand-made votes, then random ones vs the reference
implementation."""
import numpy as np
import paddle
import pytest

from paddleseg_panoptic.postprocess import get_instance_segmentation, group_pixels
from paddleseg_panoptic.postprocess import reference
from paddleseg_panoptic.postprocess.grouping import _group_numpy, _group_paddle


def test_zero_offsets_split_at_the_midline_first_centre_on_ties():
    # Centres (1, 1) -> id 1 and (1, 5) -> id 2 on a 3x7 image, no offsets. Columns 0-2 are
    # nearer to column 1, columns 4-6 to column 5; column 3 is exactly between: tie -> id 1.
    ctr = np.array([[1, 1], [1, 5]])
    ids = group_pixels(ctr, np.zeros((2, 3, 7), np.float32))
    np.testing.assert_array_equal(ids[0], [[1, 1, 1, 1, 2, 2, 2]] * 3)


def test_votes_use_the_float_location():
    ctr = np.array([[1, 1], [1, 5]])
    off = np.zeros((2, 3, 7), np.float32)
    off[1, 0, 6] = -5.0  # (0, 6) votes for (0, 1): id 1 although it lies next to centre 2
    off[1, 1, 3] = 0.4   # (1, 3) votes for (1, 3.4): nearer to column 5 -> id 2 (a truncated
    #                      vote (1, 3) would tie and give id 1)
    off[1, 2, 3] = -0.4  # (2, 3) votes for (2, 2.6): id 1
    ids = group_pixels(ctr, off)
    np.testing.assert_array_equal(ids[0], [[1, 1, 1, 1, 2, 2, 1],
                                           [1, 1, 1, 2, 2, 2, 2],
                                           [1, 1, 1, 1, 2, 2, 2]])


def test_mask_limits_grouping_and_no_centre_gives_zeros():
    ctr = np.array([[0, 0], [4, 4]])
    mask = np.eye(5, dtype=bool)  # only the diagonal is grouped, the rest stays 0
    ids = group_pixels(ctr, np.zeros((2, 5, 5), np.float32), mask)
    # Diagonal (i, i): nearer to (0, 0) for i <= 1, tie at i = 2 -> id 1, id 2 for i >= 3.
    np.testing.assert_array_equal(ids[0], np.diag([1, 1, 1, 2, 2]))
    empty = group_pixels(np.zeros((0, 2), np.int64), np.zeros((2, 5, 5), np.float32))
    np.testing.assert_array_equal(empty, np.zeros((1, 5, 5)))


def test_instance_segmentation_groups_only_thing_pixels():
    # 5x5, class 11 (thing) on the left 2 columns and class 0 (stuff) elsewhere; one heatmap
    # peak at (2, 0) and one at (2, 4) (a stuff area: its pixels are still not grouped).
    semantic = np.zeros((1, 5, 5), np.int64)
    semantic[0, :, :2] = 11
    hmp = np.zeros((1, 5, 5), np.float32)
    hmp[0, 2, 0], hmp[0, 2, 4] = 0.9, 0.8
    instance, centers = get_instance_segmentation(semantic, hmp, np.zeros((2, 5, 5), np.float32),
                                                  thing_list=[11, 12], nms_kernel=3)
    np.testing.assert_array_equal(centers, [[[2, 0], [2, 4]]])
    want = np.zeros((1, 5, 5), np.int64)
    want[0, :, :2] = 1  # both thing columns are nearer to (2, 0): id 1
    np.testing.assert_array_equal(instance, want)
    # No centre at all: all-zero instance map and None.
    instance, centers = get_instance_segmentation(semantic, np.zeros_like(hmp),
                                                  np.zeros((2, 5, 5), np.float32), [11])
    assert centers is None and not instance.any() and instance.shape == (1, 5, 5)


def random_case(rng, height, width, k):
    ctr = np.stack([rng.integers(0, height, k), rng.integers(0, width, k)], axis=1)
    scale = rng.choice([0.7, 4.0, 20.0])
    off = (rng.standard_normal((2, height, width)) * scale).astype(np.float32)
    if rng.random() < 0.5:
        off = np.round(off * 2) / 2  # half-pixel votes: many exact ties between centres
    mask = rng.random((height, width)) < 0.7
    return ctr, off.astype(np.float32), mask


def test_random_equals_reference_and_paths_agree():
    rng = np.random.default_rng(2)
    for _ in range(12):
        height, width = rng.integers(5, 21, size=2)
        ctr, off, mask = random_case(rng, height, width, int(rng.integers(2, 12)))
        want = reference.group_pixels(ctr, off, mask)
        np.testing.assert_array_equal(group_pixels(ctr, off, mask), want)
        # Unmasked, numpy in / numpy out and paddle in / paddle out.
        want_all = reference.group_pixels(ctr, off)
        np.testing.assert_array_equal(group_pixels(ctr, off), want_all)
        got = group_pixels(paddle.to_tensor(ctr), paddle.to_tensor(off))
        assert isinstance(got, paddle.Tensor) and got.dtype == paddle.int64
        np.testing.assert_array_equal(got.numpy(), want_all)
        # The device implementation (run here on CPU tensors) agrees, in small blocks too.
        native = _group_paddle(paddle.to_tensor(ctr), paddle.to_tensor(off),
                               paddle.to_tensor(mask), budget=5)
        np.testing.assert_array_equal(native.numpy(), want)


def test_chunked_pruned_and_dense_paths_agree_bit_for_bit():
    rng = np.random.default_rng(3)
    for i in range(60):
        height, width = rng.integers(8, 64, size=2)
        ctr, off, mask = random_case(rng, height, width, int(rng.integers(2, 40)))
        if i % 10 == 0:  # non-finite and far-away votes take the dense rule
            off[0, 0, 0], off[1, 1, 1], off[0, 2, 2] = np.nan, np.inf, 1e30
        dense = reference.group_pixels(ctr, off, mask, budget=1 << 30)
        np.testing.assert_array_equal(reference.group_pixels(ctr, off, mask, budget=3),
                                      dense)
        for method in ("table", "grid"):
            for min_cell in (1.0, 3.0, 16.0):
                np.testing.assert_array_equal(
                    _group_numpy(ctr, off, mask, budget=int(rng.integers(1, 50)),
                                 method=method, min_cell=min_cell), dense)
        np.testing.assert_array_equal(_group_numpy(ctr, off, None, min_cell=2.0),
                                      reference.group_pixels(ctr, off))


@pytest.mark.parametrize("ctr, off, match", [
    (np.zeros((3,), np.int64), np.zeros((2, 4, 4), np.float32), "ctr"),
    (np.zeros((3, 2), np.int64), np.zeros((3, 4, 4), np.float32), "offsets"),
])
def test_bad_input_raises(ctr, off, match):
    with pytest.raises(ValueError, match=match):
        group_pixels(ctr, off)


def test_instance_segmentation_shape_mismatch_raises():
    with pytest.raises(ValueError, match="share H and W"):
        get_instance_segmentation(np.zeros((1, 4, 4), np.int64), np.zeros((1, 4, 5), np.float32),
                                  np.zeros((2, 4, 4), np.float32), [11])


@pytest.mark.parametrize("band, int64_remap", [(1, True), (40, True), (200, True),
                                                (40, False)])
def test_table_path_in_small_bands_and_tiny_cells_matches_dense(monkeypatch, band, int64_remap):
    # Bands of whole cell rows, each reading the padded table from its own first row: votes
    # above and below their band, outside the image, non-finite, and on cell borders; selected
    # by a mask, by classes (one of them negative: an error) or not at all. Both ways of
    # writing the ids: remap straight into the int64 output, and through int32.
    from paddleseg_panoptic.postprocess import _limits, lookup
    monkeypatch.setattr(_limits, "LOOKUP_BAND_PIXELS", band)
    monkeypatch.setattr(lookup, "remap_copies_int64", lambda: int64_remap)
    rng = np.random.default_rng(11)
    for i in range(10):
        height, width = rng.integers(6, 40, size=2)
        ctr, off, mask = random_case(rng, height, width, int(rng.integers(2, 25)))
        off[0] += rng.choice([-2 * height, 0, 0, 0, height], size=off.shape[1:])
        if i % 3 == 0:
            off[0, 0, 0], off[1, -1, -1], off[1, 1, 0] = np.nan, -np.inf, 3e9
        dense = reference.group_pixels(ctr, off, mask)
        semantic = np.where(mask, 12, rng.choice([0, 3, 20], size=mask.shape))
        for min_cell in (1.0, 2.0, 5.0):
            np.testing.assert_array_equal(_group_numpy(ctr, off, mask, min_cell=min_cell), dense)
            np.testing.assert_array_equal(
                _group_numpy(ctr, off, semantic=semantic, things=[11, 12], min_cell=min_cell),
                dense)
        np.testing.assert_array_equal(_group_numpy(ctr, off, min_cell=3.0),
                                      reference.group_pixels(ctr, off))
        semantic[-1, -1] = -1
        with pytest.raises(ValueError, match="semantic must hold non-negative ids"):
            _group_numpy(ctr, off, semantic=semantic, things=[11, 12], min_cell=2.0)


def test_remap_copies_int64_ids_on_this_machine():
    # The fast way (remap writing int64 ids seen as float64) is the one in use here.
    from paddleseg_panoptic.postprocess import lookup
    assert lookup.remap_copies_int64()


def test_cell_table_labels_are_the_strict_nearest_centre_of_the_whole_cell():
    from paddleseg_panoptic.postprocess.lookup import cell_table as _cell_table
    rng = np.random.default_rng(12)
    for _ in range(5):
        height, width = rng.integers(60, 160, size=2)
        k = int(rng.integers(2, 6))
        cy = rng.integers(0, height, k).astype(np.float32)
        cx = rng.integers(0, width, k).astype(np.float32)
        cell, table = _cell_table(cy, cx, height, width, min_cell=4.0)
        assert table.shape == (-(-height // cell), -(-width // cell))
        assert (table >= 1).mean() > 0.3  # most cells are decided
        # Sample points of every decided cell, widened by one pixel: the table's centre is
        # strictly nearest to each of them.
        gy, gx = np.nonzero(table > 0)
        frac = np.linspace(-1.0, cell + 1.0, 7, dtype=np.float32)
        py = (gy[:, None, None] * cell + frac[None, :, None]).astype(np.float32)
        px = (gx[:, None, None] * cell + frac[None, None, :]).astype(np.float32)
        d = np.sqrt((cy[:, None, None, None] - py) ** 2 + (cx[:, None, None, None] - px) ** 2)
        owner = table[gy, gx] - 1
        mine = d[owner, np.arange(gy.size)]
        d[owner, np.arange(gy.size)] = np.inf
        assert (mine < d.min(axis=0)).all()


def test_aligned_buffers():
    from paddleseg_panoptic.postprocess import _arrays
    big = _arrays.empty_aligned(3 << 20, np.int64)  # 24 MiB: aligned to 2 MiB
    assert big.shape == (3 << 20,) and big.dtype == np.int64 and big.flags.c_contiguous
    assert big.flags.writeable and big.ctypes.data % (2 << 20) == 0
    small = _arrays.zeros_aligned(10, np.float32)  # small: an ordinary array
    assert small.dtype == np.float32 and not small.any() and small.shape == (10,)
    zeros = _arrays.zeros_aligned(1 << 20, np.int64)
    assert zeros.ctypes.data % (2 << 20) == 0 and not zeros.any()


def test_large_masked_grouping_matches_dense_and_output_is_a_plain_array():
    # Large enough for the aligned buffers of the votes, cell ids and output (>= 4 MiB).
    rng = np.random.default_rng(9)
    height, width = 600, 1000
    ctr = np.stack([rng.integers(0, height, 25), rng.integers(0, width, 25)], axis=1)
    off = (rng.standard_normal((2, height, width)) * 30).astype(np.float32)
    mask = rng.random((height, width)) < 0.9
    got = group_pixels(ctr, off, mask)
    assert got.shape == (1, height, width) and got.dtype == np.int64 and got.flags.writeable
    np.testing.assert_array_equal(got, reference.group_pixels(ctr, off, mask))


def test_grouping_from_threads_gives_the_ids_of_one_call():
    # Grouping keeps no state between calls: overlapping calls from several threads give the
    # same ids as one call and leave OpenCV's process-wide thread count alone.
    import threading

    import cv2
    rng = np.random.default_rng(13)
    ctr, off, mask = random_case(rng, 300, 200, 20)
    want = reference.group_pixels(ctr, off, mask)
    before = cv2.getNumThreads()
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(group_pixels(ctr, off, mask))
        except Exception as err:  # reported below
            errors.append(err)
    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 15
    for got in results:
        np.testing.assert_array_equal(got, want)
    assert cv2.getNumThreads() == before


@pytest.mark.parametrize("height, width", [(40000, 3), (3, 40000), (20, 32000)])
def test_extreme_image_shapes_match_dense(height, width):
    # OpenCV's remap works on images under 32767 pixels a side: very tall images get larger
    # cells and shorter bands, very wide ones the pruned search.
    rng = np.random.default_rng(14)
    ctr = np.stack([rng.integers(0, height, 5), rng.integers(0, width, 5)], axis=1)
    off = (rng.standard_normal((2, height, width)) * 3).astype(np.float32)
    mask = rng.random((height, width)) < 0.5
    np.testing.assert_array_equal(_group_numpy(ctr, off, mask, min_cell=1.0),
                                  reference.group_pixels(ctr, off, mask))
