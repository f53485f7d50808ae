"""Slow, obvious per-segment versions of the target and raw-label definitions (docs/data.md).

They scan the whole image once per segment, the way the definition reads. Tests compare the
package's one-pass generators with them; ``benchmarks/bench_targets.py`` times both.
"""
import numpy as np


def slow_rgb2id(color):
    color = color.astype(np.int32)
    return color[:, :, 0] + 256 * color[:, :, 1] + 256 * 256 * color[:, :, 2]


def slow_targets(panoptic, segments, ignore_index=255, thing_list=tuple(range(11, 19)), sigma=8,
                 ignore_stuff_in_offset=False, small_instance_area=0, small_instance_weight=1,
                 ignore_crowd_in_semantic=False):
    """Per-segment training targets; recomputes each mask the way the definition reads."""
    panoptic = slow_rgb2id(panoptic)
    height, width = panoptic.shape
    semantic = np.full((height, width), ignore_index, dtype=np.int64)
    foreground = np.zeros((height, width), dtype=np.int64)
    center = np.zeros((1, height, width), dtype=np.float32)
    offset = np.zeros((2, height, width), dtype=np.float32)
    semantic_weights = np.ones((height, width), dtype=np.float32)
    center_weights = np.zeros((height, width), dtype=np.float32)
    offset_weights = np.zeros((height, width), dtype=np.float32)
    y_coord, x_coord = np.mgrid[0:height, 0:width].astype(np.float32)
    size = 6 * sigma + 3
    x = np.arange(0, size, 1, float)
    y = x[:, np.newaxis]
    g = np.exp(-((x - (3 * sigma + 1)) ** 2 + (y - (3 * sigma + 1)) ** 2) / (2 * sigma ** 2))
    center_points = []
    for seg in segments:
        cat = seg["category_id"]
        if not (ignore_crowd_in_semantic and seg["iscrowd"]):
            semantic[panoptic == seg["id"]] = cat
        if cat in thing_list:
            foreground[panoptic == seg["id"]] = 1
        if not seg["iscrowd"]:
            center_weights[panoptic == seg["id"]] = 1
            if not ignore_stuff_in_offset or cat in thing_list:
                offset_weights[panoptic == seg["id"]] = 1
        if cat not in thing_list:
            continue
        rows, cols = np.where(panoptic == seg["id"])
        if len(rows) == 0:
            continue
        if len(rows) < small_instance_area:
            semantic_weights[panoptic == seg["id"]] = small_instance_weight
        cy, cx = np.mean(rows), np.mean(cols)
        center_points.append([cy, cx])
        yi, xi = int(cy), int(cx)
        if xi < 0 or yi < 0 or xi >= width or yi >= height:
            continue
        ul = int(np.round(xi - 3 * sigma - 1)), int(np.round(yi - 3 * sigma - 1))
        br = int(np.round(xi + 3 * sigma + 2)), int(np.round(yi + 3 * sigma + 2))
        c, d = max(0, -ul[0]), min(br[0], width) - ul[0]
        a, b = max(0, -ul[1]), min(br[1], height) - ul[1]
        cc, dd = max(0, ul[0]), min(br[0], width)
        aa, bb = max(0, ul[1]), min(br[1], height)
        center[0, aa:bb, cc:dd] = np.maximum(center[0, aa:bb, cc:dd], g[a:b, c:d])
        # float32 arithmetic, as numpy 1.x computes a float64 scalar minus a float32 array.
        offset[0][rows, cols] = np.float32(cy) - y_coord[rows, cols]
        offset[1][rows, cols] = np.float32(cx) - x_coord[rows, cols]
    return {
        "semantic": semantic, "foreground": foreground, "center": center,
        "center_points": center_points, "offset": offset,
        "semantic_weights": semantic_weights, "center_weights": center_weights,
        "offset_weights": offset_weights,
    }


def slow_raw_semantic(panoptic, segments, ignore_index=255):
    ids = slow_rgb2id(panoptic)
    out = np.full(ids.shape, ignore_index, dtype=np.int64)
    for seg in segments:
        out[ids == seg["id"]] = seg["category_id"]
    return out


def slow_raw_instance(panoptic, label_divisor=1000):
    ids = slow_rgb2id(panoptic)
    out = np.zeros(ids.shape, dtype=np.int64)
    next_id = 1
    for value in np.unique(ids):
        if value > label_divisor:
            out[ids == value] = next_id
            next_id += 1
    return out


def slow_raw_panoptic(panoptic, segments, ignore_index=255, label_divisor=1000):
    ids = slow_rgb2id(panoptic)
    out = np.full(ids.shape, ignore_index, dtype=np.int64)
    for seg in segments:
        if seg["id"] < label_divisor:
            out[ids == seg["id"]] = seg["category_id"]
        else:
            out[ids == seg["id"]] = (seg["category_id"] * label_divisor
                                     + seg["id"] % label_divisor)
    return out
