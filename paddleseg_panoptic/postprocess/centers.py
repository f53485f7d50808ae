"""Instance centre finding: threshold, non-maximum suppression and strict top-k.

The rule is step 2 of docs/postprocess.md ("Algorithm").
"""
import numbers

import numpy as np
import paddle
import paddle.nn.functional as F

from . import _arrays, _limits
from .defaults import NMS_KERNEL, THRESHOLD, TOP_K

__all__ = ["find_instance_center"]



def _check_args(threshold, nms_kernel, top_k):
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be a real number, got {threshold!r}")
    if (isinstance(nms_kernel, bool) or not isinstance(nms_kernel, numbers.Integral)
            or nms_kernel < 1 or nms_kernel % 2 == 0):
        raise ValueError(f"nms_kernel must be a positive odd int, got {nms_kernel!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral)
                              or top_k < 1):
        raise ValueError(f"top_k must be None or a positive int, got {top_k!r}")


def _window_max_1d(a, k, axis):
    """Max over every window of length ``k`` along ``axis`` ('valid': output is k - 1 shorter).

    Doubles the covered length with each ``np.maximum`` of two shifted views, so a window of 7
    costs 3 passes instead of 6 and never leaves numpy's vectorised loops.
    """
    n = a.shape[axis]
    out_len = n - k + 1

    def view(arr, start, length):
        index = [slice(None)] * arr.ndim
        index[axis] = slice(start, start + length)
        return arr[tuple(index)]

    cur, width = a, 1
    while 2 * width <= k:
        length = cur.shape[axis] - width
        cur = np.maximum(view(cur, 0, length), view(cur, width, length))
        width *= 2
    if width < k:
        # Two overlapping windows of ``width`` cover exactly ``k``.
        cur = np.maximum(view(cur, 0, out_len), view(cur, k - width, out_len))
    return cur


def _tiles_above(values, t, threshold):
    """[ceil(H / t), ceil(W / t)] bool: whether each t x t tile of ``values`` has one > threshold.

    One band of t rows at a time: the comparison and the reduction over the band's rows
    (long contiguous runs, fast) stay in cache, and no full-size mask is made; the small
    [tiles, W] result is then reduced along columns.
    """
    height, width = values.shape
    rows = np.zeros((-(-height // t), -(-width // t) * t), dtype=bool)
    above = np.empty((min(t, height), width), dtype=bool)
    for i, r in enumerate(range(0, height, t)):
        band = above[:min(t, height - r)]
        np.greater(values[r:r + t], threshold, out=band)  # NaN compares False
        band.any(axis=0, out=rows[i, :width])
    return rows.reshape(rows.shape[0], -1, t).any(axis=2)


def _find_centers_numpy(hmp, threshold, nms_kernel, top_k):
    h = np.asarray(hmp, dtype=np.float32)[0]
    height, width = h.shape
    # Only values above the threshold and above 0 can be centres, and a value <= 0 next to one
    # never beats it: every other value may be replaced by 0 (the padding value) without
    # changing the centres. The map is cut into tiles and only tiles holding such a value
    # (with a halo of the window radius) are filtered, so sparse heatmaps are cheap.
    above = np.float32(max(threshold, 0.0))
    t = _limits.NMS_TILE
    r = (nms_kernel - 1) // 2
    ty, tx = np.nonzero(_tiles_above(h, t, above))
    if ty.size == 0:
        return None
    # [tiles, t + 2r, t + 2r]: each active tile with its halo, gathered from the map with the
    # out-of-image and not-above-threshold pixels set to 0 (the zero padding). Only the active
    # tiles are copied: no padded full-size map.
    span = np.arange(-r, t + r)
    rows = ty[:, None] * t + span
    cols = tx[:, None] * t + span
    valid = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
    rows, cols = np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)
    stack = h[rows[:, :, None], cols[:, None, :]]
    valid &= stack > above  # NaN compares False
    stack[~valid] = 0
    pooled = _window_max_1d(_window_max_1d(stack, nms_kernel, 2), nms_kernel, 1)
    inner = stack[:, r:r + t, r:r + t]
    peaks = inner == pooled
    peaks &= inner > 0
    n, py, px = np.nonzero(peaks)
    values = inner[n, py, px]
    py += ty[n] * t
    px += tx[n] * t
    order = np.argsort(py * width + px, kind="stable")  # centres are listed in row-major order
    py, px, values = py[order], px[order], values[order]
    if top_k is not None and values.size >= top_k:
        # t = top_k-th largest value of the suppressed map (its zeros rank below every peak
        # when at least top_k peaks exist); centres are strictly greater than t.
        cut = np.partition(values, values.size - top_k)[values.size - top_k]
        keep = values > cut
        py, px = py[keep], px[keep]
    if py.size == 0:
        return None
    return np.stack([py, px], axis=1).astype(np.int64)


def _find_centers_paddle(hmp, threshold, nms_kernel, top_k):
    """Device implementation, same result as the numpy one; ``hmp`` is a [1, H, W] Tensor."""
    h = hmp.astype("float32")
    h = paddle.where(h > threshold, h, paddle.zeros_like(h))
    # Whatever value the pooling pads with, it cannot exceed a positive pixel, and only
    # positive pixels can be centres: the result equals zero padding.
    pooled = F.max_pool2d(h.unsqueeze(0), nms_kernel, stride=1, padding=(nms_kernel - 1) // 2)
    peaks = paddle.logical_and(h > 0, h == pooled[0])[0]
    values = paddle.where(peaks, h[0], paddle.zeros_like(h[0]))
    count = int(peaks.astype("int64").sum())
    if count == 0:
        return None
    if top_k is not None and count >= top_k:
        t = paddle.topk(values.flatten(), top_k)[0][top_k - 1]
        peaks = paddle.logical_and(peaks, values > t)
    centers = paddle.nonzero(peaks)
    if centers.shape[0] == 0:
        return None
    return centers.astype("int64")


def find_instance_center(ctr_hmp, threshold=THRESHOLD, nms_kernel=NMS_KERNEL, top_k=TOP_K):
    """Find instance centres in a centre heatmap.

    Values not above ``threshold`` become 0; a pixel survives non-maximum suppression when it
    equals the maximum of its ``nms_kernel`` x ``nms_kernel`` window (stride 1, zero padding);
    with t the ``top_k``-th largest value of the suppressed map (zeros included), the centres are
    the surviving pixels with a value strictly greater than t and than 0, so at most
    ``top_k - 1`` are kept when ``top_k`` or more peaks exist.

    Args:
        ctr_hmp (np.ndarray | Tensor): [1, H, W] centre heatmap (float).
        threshold (float): values <= threshold are suppressed.
        nms_kernel (int): odd window size of the non-maximum suppression.
        top_k (int | None): rank of the cut-off value; None keeps every peak.

    Returns:
        np.ndarray | Tensor | None: [K, 2] int64 (y, x) in row-major order, same kind as
        ``ctr_hmp``; None when there is no centre.

    Raises:
        ValueError: on a bad shape or argument.
    """
    _arrays.check_ndim(ctr_hmp, "ctr_hmp", 3, lead=1)
    _check_args(threshold, nms_kernel, top_k)
    if _arrays.on_device(ctr_hmp):
        return _find_centers_paddle(ctr_hmp, float(threshold), int(nms_kernel), top_k)
    centers = _find_centers_numpy(_arrays.to_numpy(ctr_hmp), float(threshold), int(nms_kernel),
                                  top_k)
    if _arrays.is_tensor(ctr_hmp):
        return _arrays.to_tensor(centers, ctr_hmp)
    return centers
