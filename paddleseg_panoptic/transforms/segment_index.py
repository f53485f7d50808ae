"""Pixel-to-segment index maps: the one O(H*W) pass that all label generators share.

A panoptic PNG stores a segment id per pixel (:func:`~paddleseg_panoptic.utils.panoptic_ids.rgb2id`). Instead of comparing
the whole image with every segment id (one full scan per segment), the generators map each
pixel once to the position of its segment in the ``segments`` list and then read per-segment
values through small lookup tables.
"""
import cv2
import numpy as np

# Above this id a dense id -> index table would be wasteful; fall back to a sorted search.
_MAX_DENSE_ID = 1 << 22


class SegmentLookup:
    """Maps segment ids to their position in a list of segments, for whole id maps at once.

    Built once per label from the listed ids, then applied to the id map (or to blocks of rows
    of it). Ids that are not listed map to ``len(segment_ids)``.

    Args:
        segment_ids (sequence[int]): ids of the listed segments; must be unique.

    Raises:
        ValueError: when ``segment_ids`` holds the same id twice.
    """

    def __init__(self, segment_ids):
        segment_ids = np.asarray(segment_ids, dtype=np.int64).reshape(-1)
        values, counts = np.unique(segment_ids, return_counts=True)
        if values.size != segment_ids.size:
            raise ValueError("segments list the same id more than once: {}".format(
                values[counts > 1].tolist()))
        self.num = num = segment_ids.size
        # uint8 lets cv2.LUT read per-segment tables through the map in one fast pass.
        self.dtype = np.uint8 if num < 255 else np.int32
        valid = segment_ids >= 0
        max_id = int(segment_ids.max()) if num else -1
        self._table = None
        if max_id < _MAX_DENSE_ID:
            # One slot past the largest listed id holds "unlisted"; larger ids clip onto it.
            self._table = np.full(max_id + 2, num, dtype=self.dtype)
            self._table[segment_ids[valid]] = np.arange(num, dtype=self.dtype)[valid]
        else:
            self._order = np.argsort(segment_ids)
            self._sorted = segment_ids[self._order]

    def __call__(self, ids):
        """Args: ids (np.ndarray): non-negative integer ids, any shape.

        Returns:
            np.ndarray: segment positions, same shape, dtype ``self.dtype``.
        """
        if self.num == 0:
            return np.full(ids.shape, 0, dtype=self.dtype)
        if self._table is not None:
            return np.take(self._table, ids, mode="clip")
        pos = np.minimum(np.searchsorted(self._sorted, ids), self.num - 1)
        found = self._sorted[pos] == ids
        return np.where(found, self._order[pos], self.num).astype(self.dtype)


def segment_index_map(ids, segment_ids):
    """Maps every pixel to the index of its segment in ``segment_ids``.

    Args:
        ids (np.ndarray): ``[H, W]`` non-negative integer segment ids.
        segment_ids (sequence[int]): ids of the listed segments, unique.

    Returns:
        np.ndarray: ``[H, W]`` index map; pixel value ``i`` means ``segment_ids[i]``, and
        ``len(segment_ids)`` marks pixels whose id is not listed. uint8 when fewer than 255
        segments are listed (so ``cv2.LUT`` can gather from it), else int32.

    Raises:
        ValueError: when ``segment_ids`` holds the same id twice.
    """
    return SegmentLookup(segment_ids)(np.asarray(ids))


def gather(table, index, out=None):
    """``table[index]`` for a small per-segment table and a full-size index map.

    Uses ``cv2.LUT`` (one fast pass) when the index map is uint8 and the table's dtype is one
    OpenCV handles; otherwise ``np.take``. Both give exactly ``table[index]``.

    Args:
        table (np.ndarray): ``[S + 1]`` values.
        index (np.ndarray): ``[H, W]`` index map from :func:`segment_index_map`.
        out (np.ndarray, optional): C-contiguous ``[H, W]`` array of ``table``'s dtype to
            write into.

    Returns:
        np.ndarray: ``[H, W]`` with ``table``'s dtype (``out`` when given).
    """
    table = np.asarray(table)
    if index.dtype == np.uint8 and table.dtype in (np.float32, np.int32, np.uint8) \
            and index.ndim == 2 and index.size > 0:
        lut = np.zeros(256, dtype=table.dtype)
        lut[:table.size] = table
        if out is None:
            return cv2.LUT(np.ascontiguousarray(index), lut)
        cv2.LUT(np.ascontiguousarray(index), lut, dst=out)
        return out
    return np.take(table, index, out=out)
