"""Hand-made cases for paddleseg_panoptic.utils.visualize."""
import json

import numpy as np
import pytest

from paddleseg_panoptic.datasets import meta
from paddleseg_panoptic.utils import visualize as vis
from paddleseg_panoptic.utils.panoptic_ids import id2rgb, rgb2id


def test_colorize_semantic_palette_and_black_for_unknown():
    semantic = np.array([[0, 255, 18], [11, 19, -1]])
    out = vis.colorize_semantic(semantic)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    assert tuple(out[0, 0]) == meta.PALETTE[0]
    assert tuple(out[0, 2]) == meta.PALETTE[18]
    assert tuple(out[1, 0]) == meta.PALETTE[11]
    # ignore (255), an id past the palette (19) and a negative id are all black
    for y, x in [(0, 1), (1, 1), (1, 2)]:
        assert tuple(out[y, x]) == (0, 0, 0)


def test_blend_rounds_to_nearest():
    image = np.array([[[100, 0, 255]]], dtype=np.uint8)
    color = np.array([[[201, 3, 0]]], dtype=np.uint8)
    # (100 + 201) / 2 = 150.5 -> 150 (half to even); (0 + 3) / 2 = 1.5 -> 2; 255 / 2 = 127.5 -> 128
    assert vis.blend(image, color).tolist() == [[[150, 2, 128]]]
    assert vis.blend(image, color, weight=1.0).tolist() == color.tolist()
    with pytest.raises(ValueError, match="same shape"):
        vis.blend(image, np.zeros((1, 2, 3), np.uint8))


def test_panoptic_to_semantic():
    panoptic = np.array([[0, 255, 13001], [13002, 11001, 12]])
    assert vis.panoptic_to_semantic(panoptic).tolist() == [[0, 255, 13], [13, 11, 12]]


def test_panoptic_colors_hand_made():
    # Two cars, one person, road and ignore.
    panoptic = np.array([[0, 0, 13001, 13002],
                         [255, 11001, 11001, 13002]])
    out = vis.colorize_panoptic(panoptic)
    # The first segment of a class keeps the exact class colour.
    assert tuple(out[0, 0]) == meta.PALETTE[0]
    assert tuple(out[0, 2]) == meta.PALETTE[13]
    assert tuple(out[1, 1]) == meta.PALETTE[11]
    # The second car: car colour shifted by one step (12) on the first axis tried, (-1, 0, 0)
    # is the smallest offset in sort order, (0, 0, 142) - (12, 0, 0) clips to the car colour
    # itself (taken), so the next offset (0, -1, 0) also clips, and (0, 0, -1) gives 130.
    assert tuple(out[0, 3]) == (0, 0, 130)
    assert tuple(out[1, 3]) == (0, 0, 130)
    assert tuple(out[1, 0]) == (0, 0, 0)


def test_panoptic_colors_distinct_and_close_to_class():
    rng = np.random.RandomState(0)
    ids = np.concatenate([13000 + np.arange(1, 200), 11000 + np.arange(1, 50), [0, 2, 10]])
    panoptic = rng.choice(ids, size=(64, 64))
    panoptic[0, :len(ids)] = ids[:64]
    panoptic.ravel()[:len(ids)] = ids
    colors = vis.panoptic_colors(panoptic)
    assert sorted(colors) == sorted(ids.tolist())
    assert len(set(colors.values())) == len(colors)
    assert (0, 0, 0) not in colors.values()
    for segment_id, color in colors.items():
        cls = segment_id // 1000 if segment_id >= 1000 else segment_id
        # Offsets of radius r give up to (2r + 1)^3 colours, fewer where a channel clips at 0 or
        # 255: the car colour (0, 0, 142) has (r + 1)^2 (2r + 1) of them, 225 >= 199 at r = 4.
        assert np.abs(np.subtract(color, meta.PALETTE[cls])).max() <= 4 * 12
    out = vis.colorize_panoptic(panoptic)
    for segment_id, color in colors.items():
        assert (out[panoptic == segment_id] == color).all()
    # deterministic, independent of the pixel layout
    assert vis.panoptic_colors(panoptic[::-1]) == colors


def test_panoptic_shift_never_takes_another_class_colour():
    # Class 2's colour is exactly class 1's colour plus the first offset (-12, 0, 0).
    palette = [(10, 10, 10), (100, 100, 100), (88, 100, 100)]
    panoptic = np.array([[2, 1000 + 1, 1000 + 2]])
    # class 1 has two instances (ids 1001, 1002) and class 2 one stuff segment (id 2)
    colors = vis.panoptic_colors(panoptic, label_divisor=1000, palette=palette)
    assert colors[1001] == (100, 100, 100)
    assert colors[2] == (88, 100, 100)
    assert colors[1002] not in ((100, 100, 100), (88, 100, 100))
    assert colors[1002] == (100, 88, 100)


def test_colorize_instance():
    panoptic = np.array([[0, 13001, 13002], [255, 11001, 12]])
    out = vis.colorize_instance(panoptic)
    # stuff, ignore and a thing region without instance id are black
    for y, x in [(0, 0), (1, 0), (1, 2)]:
        assert tuple(out[y, x]) == (0, 0, 0)
    instance_pixels = [tuple(out[0, 1]), tuple(out[0, 2]), tuple(out[1, 1])]
    assert len(set(instance_pixels)) == 3
    assert all(min(c) >= 48 for c in instance_pixels)
    # an id keeps its colour in another picture
    other = vis.colorize_instance(np.array([[13002, 5]]))
    assert tuple(other[0, 0]) == tuple(out[0, 2])


def test_instance_colors_distinct_for_many():
    panoptic = (np.arange(1, 1001) + 11000).reshape(20, 50)
    colors = vis.instance_colors(panoptic)
    assert len(colors) == 1000 and len(set(colors.values())) == 1000


def test_png_round_trip_and_deterministic_bytes(tmp_path):
    rng = np.random.RandomState(1)
    ids = rng.randint(0, 256 ** 3, size=(7, 9))
    vis.write_png(tmp_path / "a.png", id2rgb(ids))
    vis.write_png(tmp_path / "b.png", id2rgb(ids))
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    back = rgb2id(vis.read_png_rgb(tmp_path / "a.png"))
    assert back.tolist() == ids.tolist()
    with pytest.raises(IOError, match="bad.png"):
        (tmp_path / "bad.png").write_bytes(b"not a png")
        vis.read_png_rgb(tmp_path / "bad.png")


def test_segments_info_hand_made(tmp_path):
    panoptic = np.array([[0, 0, 13001],
                         [255, 13001, 13001],
                         [12, 12, 255]])
    softmax = np.zeros((19, 3, 3), np.float32)
    softmax[13] = [[0.0, 0.0, 0.9], [0.0, 0.6, 0.3], [0.0, 0.0, 0.0]]
    infos = vis.segments_info(panoptic, softmax)
    assert infos == [
        {"id": 0, "category_id": 0, "category_name": "road", "isthing": False, "area": 2,
         "bbox": [0, 0, 2, 1], "score": None},
        # thing class 12 without instance id: a thing region, no score
        {"id": 12, "category_id": 12, "category_name": "rider", "isthing": True, "area": 2,
         "bbox": [0, 2, 2, 1], "score": None},
        # mean of 0.9, 0.6, 0.3 over the car's three pixels
        {"id": 13001, "category_id": 13, "category_name": "car", "isthing": True, "area": 3,
         "bbox": [1, 0, 2, 2], "score": 0.6},
    ]
    # areas plus ignore pixels cover the image
    assert sum(i["area"] for i in infos) + int((panoptic == 255).sum()) == panoptic.size
    assert vis.segments_info(panoptic)[2]["score"] is None
    vis.write_json(tmp_path / "s.json", {"segments_info": infos})
    assert json.loads((tmp_path / "s.json").read_text())["segments_info"] == infos
    with pytest.raises(ValueError, match="semantic_softmax must be"):
        vis.segments_info(panoptic, softmax[:, :2])


def test_segments_info_bbox_matches_slow_version():
    rng = np.random.RandomState(3)
    panoptic = rng.choice([0, 3, 255, 11001, 11002, 13001], size=(12, 17))
    for info in vis.segments_info(panoptic):
        ys, xs = np.nonzero(panoptic == info["id"])
        assert info["area"] == len(ys)
        assert info["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                ys.max() - ys.min() + 1]


def test_dense_and_sorted_paths_agree():
    # ids beyond the dense-table limit take the sorting path; both must give the same pictures
    rng = np.random.RandomState(5)
    small = rng.choice([0, 2, 255, 11001, 11002, 13001, 13002, 13003], size=(9, 11))
    divisor = (1 << 23) * 1000 + 1000
    shifted = np.where(small >= 1000, (small // 1000) * divisor + small % 1000, small)
    assert shifted.max() >= 1 << 22
    # same classes and instance numbers -> same panoptic colours
    a = vis.panoptic_colors(small)
    b = vis.panoptic_colors(shifted, label_divisor=divisor)
    assert list(a.values()) == list(b.values())
    np.testing.assert_array_equal(vis.colorize_panoptic(small),
                                  vis.colorize_panoptic(shifted, label_divisor=divisor))


def test_colorize_offsets_hue_is_direction_and_brightness_is_length():
    # (dy, dx) of five vectors: right, down, left, up (length 2) and right at half length.
    offsets = np.zeros((2, 1, 6), np.float32)
    offsets[1, 0, 0], offsets[0, 0, 1], offsets[1, 0, 2], offsets[0, 0, 3] = 2, 2, -2, -2
    offsets[1, 0, 4] = 1  # pixel 5 stays (0, 0)
    out = vis.colorize_offsets(offsets)
    assert out.dtype == np.uint8 and out.shape == (1, 6, 3)
    # Hue 0 deg red, 90 deg (down, image y grows downwards) yellow-green, 180 deg cyan,
    # 270 deg violet; OpenCV rounds to its 2-degree hue steps.
    assert [tuple(c) for c in out[0]] == [(255, 0, 0), (127, 255, 0), (0, 255, 255),
                                          (128, 0, 255), (128, 0, 0), (0, 0, 0)]
    # A fixed scale: length 1 of max_length 4 is a quarter brightness; longer vectors clip.
    scaled = vis.colorize_offsets(offsets, max_length=4)
    assert tuple(scaled[0, 4]) == (64, 0, 0) and tuple(scaled[0, 0]) == (128, 0, 0)
    assert tuple(vis.colorize_offsets(offsets, max_length=1)[0, 0]) == (255, 0, 0)
    assert not vis.colorize_offsets(np.zeros((2, 2, 2))).any()  # all zero: black
    with pytest.raises(ValueError, match="offsets must be \\[2, H, W\\]"):
        vis.colorize_offsets(np.zeros((3, 2, 2)))


def test_colorize_heatmap_jet_ends_and_clipping():
    out = vis.colorize_heatmap(np.array([[0.0, 1.0, -0.5, 2.0]]))
    # JET: 0 dark blue, 1 dark red; values outside [0, 1] are clipped.
    assert [tuple(c) for c in out[0]] == [(0, 0, 128), (128, 0, 0), (0, 0, 128), (128, 0, 0)]
