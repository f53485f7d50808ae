"""Instance centre finding: threshold, non-maximum suppression and strict top-k (SPEC 6.2)."""
import numbers

import numpy as np
import paddle
import paddle.nn.functional as F

from . import _arrays
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


def _nms_max_numpy(h, k):
    """k x k max filter, stride 1, zero padding (k - 1) / 2, of a [H, W] float32 map."""
    if k == 1:
        return h
    r = (k - 1) // 2
    padded = np.zeros((h.shape[0] + 2 * r, h.shape[1] + 2 * r), dtype=h.dtype)
    padded[r:r + h.shape[0], r:r + h.shape[1]] = h
    return _window_max_1d(_window_max_1d(padded, k, 1), k, 0)


def _find_centers_numpy(hmp, threshold, nms_kernel, top_k):
    h = np.asarray(hmp, dtype=np.float32)[0]
    # Values not above the threshold become 0 (NaN too: the comparison is False).
    h = np.where(h > threshold, h, np.float32(0))
    if not (h > 0).any():
        return None
    # Only positive pixels can be centres and a value <= 0 next to one never beats it, so the
    # bounding box of the positive pixels (zero padded) gives the same peaks as the whole map;
    # cropping to it makes sparse heatmaps cheap.
    rows = np.flatnonzero(h.max(axis=1) > 0)
    cols = np.flatnonzero(h.max(axis=0) > 0)
    r0, r1 = rows[0], rows[-1] + 1
    c0, c1 = cols[0], cols[-1] + 1
    crop = h[r0:r1, c0:c1]
    peaks = (crop > 0) & (crop == _nms_max_numpy(crop, nms_kernel))
    py, px = np.nonzero(peaks)  # row-major order
    values = crop[py, px]
    if top_k is not None and values.size >= top_k:
        # t = top_k-th largest value of the suppressed map (its zeros rank below every peak
        # when at least top_k peaks exist); centres are strictly greater than t.
        t = np.partition(values, values.size - top_k)[values.size - top_k]
        keep = values > t
        py, px = py[keep], px[keep]
    if py.size == 0:
        return None
    return np.stack([py + r0, px + c0], axis=1).astype(np.int64)


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
