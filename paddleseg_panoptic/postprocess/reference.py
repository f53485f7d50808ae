"""The post-processing algorithm written plainly: the oracle of the tests and benchmarks.

Every step follows docs/postprocess.md ("Algorithm") literally, in numpy, one obvious
operation after the other: argmax, softmax, a max filter for the centres, the distance from
every vote to every centre, one mask per instance and per stuff class for the fusion. Only the
grouping works in blocks of pixels, so memory stays bounded (``budget`` distances at a time)
whatever the number of centres. It is exact and slow (seconds on a 1024x2048 image with many
centres); the package's fast implementations must give the same maps bit for bit.
"""
import numpy as np
from scipy import ndimage

from ._limits import DISTANCE_BUDGET
from .defaults import NMS_KERNEL, THRESHOLD, TOP_K

__all__ = ["find_centers", "nearest_centers", "group_pixels", "merge", "postprocess"]


def find_centers(heatmap, threshold=THRESHOLD, nms_kernel=NMS_KERNEL, top_k=TOP_K):
    """[K, 2] int64 (y, x) centres of a [1, H, W] heatmap in row-major order, or None."""
    h = np.asarray(heatmap, dtype=np.float32)[0]
    h = np.where(h > threshold, h, np.float32(0))  # NaN compares False: 0
    pooled = ndimage.maximum_filter(h, size=nms_kernel, mode="constant", cval=0.0)
    kept = np.where(h == pooled, h, np.float32(0))
    cut = 0.0
    if top_k is not None and top_k <= kept.size:
        cut = np.sort(kept.ravel())[::-1][top_k - 1]  # the top_k-th value, zeros included
    centers = np.argwhere((kept > cut) & (kept > 0))
    return centers.astype(np.int64) if len(centers) else None


def nearest_centers(vy, vx, cy, cx, budget=DISTANCE_BUDGET):
    """0-based index of the nearest centre of each vote, the first one on ties.

    The distance is ``sqrt((cy - vy)^2 + (cx - vx)^2)`` with every operation in float32.

    Args:
        vy, vx (np.ndarray): [n] float32 voted locations.
        cy, cx (np.ndarray): [K] float32 centres, K >= 1.
        budget (int): largest number of distances computed at once.

    Returns:
        np.ndarray: [n] int64.
    """
    labels = np.empty(vy.shape[0], dtype=np.int64)
    rows = max(1, budget // cy.shape[0])
    for s in range(0, vy.shape[0], rows):
        dy = cy[None, :] - vy[s:s + rows, None]
        dx = cx[None, :] - vx[s:s + rows, None]
        with np.errstate(over="ignore", invalid="ignore"):  # far and non-finite votes
            dist = np.sqrt(dy * dy + dx * dx)
        labels[s:s + rows] = np.argmin(dist, axis=1)  # an all-NaN row gives 0
    return labels


def group_pixels(centers, offsets, mask=None, budget=DISTANCE_BUDGET):
    """[1, H, W] int64: 1 + the index of each pixel's nearest centre, 0 outside ``mask``.

    Args:
        centers (np.ndarray): [K, 2] (y, x), K >= 1.
        offsets (np.ndarray): [2, H, W] (dy, dx); pixel (y, x) votes for (y + dy, x + dx),
            summed in float32.
        mask (np.ndarray | None): [H, W] bool pixels to group; None: all.
    """
    _, height, width = offsets.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    vy = yy + offsets[0].astype(np.float32)
    vx = xx + offsets[1].astype(np.float32)
    select = np.ones((height, width), bool) if mask is None else np.asarray(mask, bool)
    cy = centers[:, 0].astype(np.float32)
    cx = centers[:, 1].astype(np.float32)
    out = np.zeros((1, height, width), np.int64)
    out[0][select] = nearest_centers(vy[select], vx[select], cy, cx, budget) + 1
    return out


def merge(semantic, instance, label_divisor, thing_list, stuff_area, ignore_index):
    """[H, W] int64 panoptic map of [H, W] semantic and instance maps (fusion, step 4)."""
    semantic = np.asarray(semantic, np.int64)
    instance = np.asarray(instance, np.int64)
    panoptic = np.full(semantic.shape, ignore_index, np.int64)
    thing = np.isin(semantic, list(thing_list))
    counters = {}
    for ins_id in np.unique(instance):
        if ins_id == 0:
            continue
        mask = (instance == ins_id) & thing
        if not mask.any():
            continue
        classes, counts = np.unique(semantic[mask], return_counts=True)
        cls = int(classes[np.argmax(counts)])  # unique is sorted: the smallest class on ties
        counters[cls] = counters.get(cls, 0) + 1
        panoptic[mask] = cls * label_divisor + counters[cls]
    for cls in np.unique(semantic):
        if cls in thing_list:
            continue
        mask = (semantic == cls) & (instance == 0)
        if mask.sum() >= stuff_area:
            panoptic[mask] = cls
    return panoptic


def postprocess(logits, heatmap, offsets, *, thing_list, label_divisor, stuff_area,
                ignore_index, threshold=THRESHOLD, nms_kernel=NMS_KERNEL, top_k=TOP_K,
                output_size=None):
    """The whole chain on numpy arrays; same outputs as
    :func:`~paddleseg_panoptic.postprocess.panoptic_postprocess`.

    Args:
        logits (np.ndarray): [C, H, W]; heatmap: [1, H, W]; offsets: [2, H, W].
        output_size (tuple[int, int] | None): (H0, W0) the outputs are cropped to at the end.
    """
    logits = np.asarray(logits, np.float32)
    h0, w0 = output_size or logits.shape[1:]
    semantic = np.argmax(logits, axis=0)  # the first class on ties
    centers = find_centers(heatmap, threshold, nms_kernel, top_k)
    instance = np.zeros(semantic.shape, np.int64)
    if centers is not None:
        instance = group_pixels(centers, offsets, np.isin(semantic, list(thing_list)))[0]
    panoptic = merge(semantic, instance, label_divisor, thing_list, stuff_area, ignore_index)
    shifted = np.exp(logits[:, :h0, :w0] - logits[:, :h0, :w0].max(axis=0))
    return {
        "semantic": semantic[:h0, :w0],
        "semantic_softmax": shifted / shifted.sum(axis=0),
        "instance": instance[:h0, :w0],
        "panoptic": panoptic[:h0, :w0],
        "center_heatmap": np.asarray(heatmap, np.float32)[0, :h0, :w0],
        "centers": centers,
    }
