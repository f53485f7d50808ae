"""Training targets: hand-made labels with known values, then exact equality with the slow
per-segment implementation on random labels."""
import numpy as np
import pytest

from paddleseg_panoptic.transforms import PanopticTargetGenerator, rgb2id, target_generator
from paddleseg_panoptic.transforms.target_generator import TARGET_KEYS, window_bounds

from data_slow_reference import slow_targets

THINGS = tuple(range(11, 19))


def to_rgb(ids):
    ids = np.asarray(ids, dtype=np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)


# 6 x 8 label. 7 road, 23 sky (stuff); C = 26000 car and B = 26001 car (B on the bottom
# border); P = 24 a crowd of persons (no instance); T = 24001 a one-pixel person on the left
# border; 0 unlabeled and 5 "dynamic" are not listed (void).
C, B, P, T = 26000, 26001, 24, 24001
IDS = np.array([
    [7, 7, 7, 7, 23, 23, 23, 23],
    [7, C, C, 7, 23, 23, P, P],
    [7, C, C, 7, 0, 0, P, P],
    [7, 7, 7, 7, 0, 5, 5, 7],
    [T, 7, 7, 7, 7, 7, 7, 7],
    [B, B, 7, 7, 7, 7, 7, 7],
])
SEGMENTS = [
    {"id": 7, "category_id": 0, "iscrowd": 0},
    {"id": 23, "category_id": 10, "iscrowd": 0},
    {"id": C, "category_id": 13, "iscrowd": 0},
    {"id": P, "category_id": 11, "iscrowd": 1},
    {"id": T, "category_id": 11, "iscrowd": 0},
    {"id": B, "category_id": 13, "iscrowd": 0},
    {"id": 26005, "category_id": 13, "iscrowd": 0},  # listed but has no pixel
]


def make(**kwargs):
    return PanopticTargetGenerator(255, rgb2id, THINGS, **kwargs)


def test_hand_made_semantic_foreground_and_weights():
    out = make(sigma=1, ignore_stuff_in_offset=True, small_instance_area=3,
               small_instance_weight=5)(to_rgb(IDS), SEGMENTS)
    assert set(out) == set(TARGET_KEYS)
    sem = np.full(IDS.shape, 255)
    for seg in SEGMENTS:
        sem[IDS == seg["id"]] = seg["category_id"]  # crowd P keeps its class; 0 and 5 -> 255
    np.testing.assert_array_equal(out["semantic"], sem)
    assert out["semantic"][2, 4] == 255 and out["semantic"][3, 5] == 255
    thing = np.isin(IDS, [C, B, P, T])
    np.testing.assert_array_equal(out["foreground"], thing.astype(np.int64))
    # Centre weights: every listed non-crowd segment (not P, not void).
    np.testing.assert_array_equal(out["center_weights"],
                                  np.isin(IDS, [7, 23, C, T, B]).astype(np.float32))
    # ignore_stuff_in_offset: only the non-crowd things.
    np.testing.assert_array_equal(out["offset_weights"],
                                  np.isin(IDS, [C, T, B]).astype(np.float32))
    # T (1 px) and B (2 px) are below 3 px; C and the crowd P have 4 px.
    np.testing.assert_array_equal(out["semantic_weights"],
                                  np.where(np.isin(IDS, [T, B]), 5, 1).astype(np.float32))
    for key, dtype in [("semantic", np.int64), ("foreground", np.int64),
                       ("semantic_weights", np.float32), ("center_weights", np.float32),
                       ("offset_weights", np.float32)]:
        assert out[key].dtype == dtype and out[key].shape == IDS.shape, key


def test_small_instance_weight_also_hits_crowd_and_offsets_cover_stuff_by_default():
    out = make(sigma=1, small_instance_area=5, small_instance_weight=2.5)(to_rgb(IDS), SEGMENTS)
    # All four thing segments (crowd P too) have fewer than 5 px.
    np.testing.assert_array_equal(out["semantic_weights"],
                                  np.where(np.isin(IDS, [C, P, T, B]), 2.5, 1).astype(np.float32))
    # Without ignore_stuff_in_offset, offset weights equal centre weights.
    np.testing.assert_array_equal(out["offset_weights"], out["center_weights"])


def test_ignore_crowd_in_semantic():
    out = make(ignore_crowd_in_semantic=True)(to_rgb(IDS), SEGMENTS)
    assert (out["semantic"][IDS == P] == 255).all()
    assert (out["foreground"][IDS == P] == 1).all()


def test_hand_made_centres_offsets_and_heatmap():
    out = make(sigma=1)(to_rgb(IDS), SEGMENTS)
    # Mean row / column of each thing segment with pixels, in segments order (crowd included,
    # the empty 26005 skipped): C rows {1,2} cols {1,2}; P rows {1,2} cols {6,7};
    # T the pixel (4, 0); B row 5, cols {0, 1}.
    assert out["center_points"] == [[1.5, 1.5], [1.5, 6.5], [4.0, 0.0], [5.0, 0.5]]
    dy, dx = out["offset"]
    assert out["offset"].dtype == np.float32 and out["offset"].shape == (2, 6, 8)
    assert (dy[1, 1], dx[1, 1], dy[2, 2], dx[2, 2]) == (0.5, 0.5, -0.5, -0.5)  # C
    assert (dy[1, 6], dx[1, 6], dy[2, 7], dx[2, 7]) == (0.5, 0.5, -0.5, -0.5)  # crowd P too
    assert (dy[4, 0], dx[4, 0]) == (0.0, 0.0)  # T is its own centre
    assert (dx[5, 0], dx[5, 1], dy[5, 0]) == (0.5, -0.5, 0.0)  # B
    assert not out["offset"][:, ~np.isin(IDS, [C, P, T, B])].any()  # 0 off the things
    # Heatmap: Gaussians (sigma 1) on the integer centres (1,1), (1,6), (4,0), (5,0), each
    # cut to a 9 x 9 window (offsets -4..4 from its centre); pixel-wise maximum.
    rows, cols = np.mgrid[0:6, 0:8]
    expected = np.zeros((6, 8))
    for cy, cx in [(1, 1), (1, 6), (4, 0), (5, 0)]:
        inside = (np.abs(rows - cy) <= 4) & (np.abs(cols - cx) <= 4)
        g = np.exp(-((rows - cy) ** 2 + (cols - cx) ** 2) / 2.0)
        expected = np.maximum(expected, np.where(inside, g, 0))
    assert out["center"].shape == (1, 6, 8) and out["center"].dtype == np.float32
    np.testing.assert_array_equal(out["center"][0], expected.astype(np.float32))
    assert out["center"][0, 1, 1] == 1 and out["center"][0, 5, 0] == 1
    assert out["center"][0, 0, 7] == np.float32(np.exp(-1))  # from (1, 6)
    # (5, 5): (1, 1) is 4 rows and 4 columns away, inside its window, but (1, 6) is nearer;
    # (4, 0) and (5, 0) are 5 columns away: outside their windows, so they add nothing.
    assert out["center"][0, 5, 5] == np.float32(np.exp(-17 / 2))


def test_window_bounds_clip_at_the_border_and_skip_centres_outside():
    # sigma 1: a 9 x 9 window whose top-left is 4 px above-left of the centre.
    img_rows, img_cols, win_rows, win_cols = window_bounds(0.7, 0.2, 1, 6, 8)
    assert (img_rows, img_cols) == (slice(0, 5), slice(0, 5))
    assert (win_rows, win_cols) == (slice(4, 9), slice(4, 9))
    img_rows, img_cols, win_rows, win_cols = window_bounds(5.9, 7.5, 1, 6, 8)
    assert (img_rows, img_cols) == (slice(1, 6), slice(3, 8))
    assert (win_rows, win_cols) == (slice(0, 5), slice(0, 5))
    assert window_bounds(6.0, 3.0, 1, 6, 8) is None
    assert window_bounds(2.0, -0.5, 1, 6, 8) is not None  # int(-0.5) == 0: inside
    assert window_bounds(2.0, -1.0, 1, 6, 8) is None


def test_no_segments_and_empty_listing():
    out = make()(to_rgb(IDS), [])
    assert (out["semantic"] == 255).all() and not out["center"].any()
    assert out["center_points"] == [] and not out["center_weights"].any()
    assert (out["semantic_weights"] == 1).all()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same id more than once"):
        make()(to_rgb(IDS), SEGMENTS + [SEGMENTS[0]])
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        make()(IDS.astype(np.uint8), SEGMENTS)
    with pytest.raises(KeyError, match="iscrowd"):
        make()(to_rgb(IDS), [{"id": 7, "category_id": 0}])


def random_label(rng, height, width, num_things, num_stuff=6):
    ids = np.zeros((height, width), dtype=np.int64)
    stuff = rng.choice([7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23], num_stuff, replace=False)
    for lid in stuff:
        y, x = rng.integers(0, height), rng.integers(0, width)
        ids[y:y + rng.integers(1, height), x:x + rng.integers(1, width)] = lid
    things = []
    for k in range(num_things):
        lid = int(rng.choice([24, 25, 26, 27, 28, 31, 32, 33]))
        sid = lid * 1000 + k if rng.random() > 0.15 else lid  # some crowd regions
        h, w = rng.integers(1, max(height // 3, 2)), rng.integers(1, max(width // 3, 2))
        y, x = rng.integers(-h + 1, height), rng.integers(-w + 1, width)  # may cross borders
        ids[max(y, 0):y + h, max(x, 0):x + w] = sid
        things.append(sid)
    ids[rng.random((height, width)) < 0.02] = 5  # scattered void, not listed
    train_id = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    listed = sorted(set(int(i) for i in stuff) | set(things))
    listed += [26900, 27901]  # listed, no pixel (occluded or cropped away)
    rng.shuffle(listed)
    segments = [{"id": i, "category_id": train_id[i // 1000 if i >= 1000 else i],
                 "iscrowd": int(24 <= i < 1000)} for i in listed]
    return to_rgb(ids), segments


@pytest.mark.parametrize("seed", range(6))
def test_equals_the_per_segment_definition_on_random_labels(seed, monkeypatch):
    if seed % 2:  # rows in blocks of a few rows, to exercise the accumulation across blocks
        monkeypatch.setattr(target_generator, "_BLOCK_PIXELS", 100 + 37 * seed)
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(20, 70)), int(rng.integers(20, 90))
    rgb, segments = random_label(rng, height, width, num_things=int(rng.integers(1, 25)))
    kwargs = dict(sigma=[8, 2, 2.5, 1][seed % 4], ignore_stuff_in_offset=bool(seed % 2),
                  small_instance_area=[0, 30, 200][seed % 3], small_instance_weight=3,
                  ignore_crowd_in_semantic=seed == 5)
    fast = make(**kwargs)(rgb, segments)
    slow = slow_targets(rgb, segments, 255, THINGS, **kwargs)
    for key in TARGET_KEYS:
        if key == "center_points":
            # Same bits: the centroids are integer sums divided once, like np.mean.
            assert fast[key] == [[float(a), float(b)] for a, b in slow[key]]
        else:
            assert fast[key].dtype == slow[key].dtype, key
            np.testing.assert_array_equal(fast[key], slow[key], err_msg=key)


def test_equals_the_per_segment_definition_with_more_than_255_segments():
    # 300 segments: the index map no longer fits uint8 and the generic path is used.
    rng = np.random.default_rng(7)
    ids = (26000 + np.arange(300)).repeat(8)[rng.permutation(2400)].reshape(40, 60)
    ids[:5] = 7
    segments = [{"id": 7, "category_id": 0, "iscrowd": 0}] + [
        {"id": int(i), "category_id": 13, "iscrowd": 0} for i in 26000 + np.arange(300)]
    fast = make(sigma=2, small_instance_area=8, small_instance_weight=2)(to_rgb(ids), segments)
    slow = slow_targets(to_rgb(ids), segments, 255, THINGS, sigma=2, small_instance_area=8,
                        small_instance_weight=2)
    for key in TARGET_KEYS:
        if key != "center_points":
            np.testing.assert_array_equal(fast[key], slow[key], err_msg=key)
    assert fast["center_points"] == [[float(a), float(b)] for a, b in slow["center_points"]]


def test_rgb2id():
    rgb = to_rgb([[0, 7, 26001], [65535, 65536, 16777215]])
    np.testing.assert_array_equal(rgb2id(rgb), [[0, 7, 26001], [65535, 65536, 16777215]])
    assert rgb2id(rgb).dtype == np.int32
    assert rgb2id((145, 101, 0)) == 26001
    np.testing.assert_array_equal(rgb2id(rgb.astype(np.int64)), rgb2id(rgb))


def test_segment_index_map_dense_and_sorted_paths():
    from paddleseg_panoptic.transforms.segment_index import segment_index_map

    ids = np.array([[7, 26001, 5], [0, 16777215, 7]])
    # Position in the list, len(list) (= 3) for unlisted ids. 16777215 > 2^22 forces the
    # sorted search instead of a dense table.
    np.testing.assert_array_equal(segment_index_map(ids, [26001, 16777215, 7]),
                                  [[2, 0, 3], [3, 1, 2]])
    np.testing.assert_array_equal(segment_index_map(ids, [26001, 7]), [[1, 0, 2], [2, 2, 1]])
    np.testing.assert_array_equal(segment_index_map(ids, []), np.zeros((2, 3)))
    assert segment_index_map(ids, [7]).dtype == np.uint8
    assert segment_index_map(ids, list(range(1000, 1300))).dtype == np.int32


def test_equals_the_per_segment_definition_with_ids_beyond_the_dense_table():
    rng = np.random.default_rng(11)
    rgb, segments = random_label(rng, 30, 40, num_things=8)
    ids = rgb2id(rgb).astype(np.int64)
    ids[:6, :9] = 9_000_000  # a listed stuff segment with a very large id
    segments.append({"id": 9_000_000, "category_id": 4, "iscrowd": 0})
    fast = make(sigma=2)(to_rgb(ids), segments)
    slow = slow_targets(to_rgb(ids), segments, 255, THINGS, sigma=2)
    for key in TARGET_KEYS:
        if key != "center_points":
            np.testing.assert_array_equal(fast[key], slow[key], err_msg=key)
    assert (fast["semantic"][:6, :9] == 4).all()
