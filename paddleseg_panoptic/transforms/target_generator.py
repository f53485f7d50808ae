"""Training targets of Panoptic-DeepLab from a panoptic label (docs/data.md, "Training targets").

The targets are defined per segment (see :class:`PanopticTargetGenerator`), but computed in a
fixed number of whole-image passes: one pixel -> segment index map, per-segment lookup tables
read through it for the per-pixel maps, exact areas and centroids from the runs of equal
segments along rows, and one constant-size Gaussian window per instance. The cost does not grow
with the number of segments (the reference compares the whole image with every segment id).
"""
import cv2
import numpy as np

from paddleseg_panoptic.transforms.segment_index import SegmentLookup, gather

# Rows are processed in blocks of about this many pixels, small enough to stay in cache.
_BLOCK_PIXELS = 1 << 16

TARGET_KEYS = ("semantic", "foreground", "center", "center_points", "offset",
               "semantic_weights", "center_weights", "offset_weights")


def gaussian_window(sigma):
    """The un-normalised 2-D Gaussian stamped on every instance centre.

    Args:
        sigma (float): standard deviation in pixels.

    Returns:
        np.ndarray: ``[ceil(6 sigma + 3), ceil(6 sigma + 3)]`` float64, peak 1 at
        ``(3 sigma + 1, 3 sigma + 1)``.
    """
    size = 6 * sigma + 3
    x = np.arange(0, size, 1, float)
    y = x[:, np.newaxis]
    c = 3 * sigma + 1
    return np.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * sigma ** 2))


def window_bounds(center_y, center_x, sigma, height, width):
    """Where the Gaussian of an integer centre lands in the image and which part of it.

    Returns ``None`` when the centre lies outside the image (nothing is drawn), else
    ``(image_rows, image_cols, window_rows, window_cols)`` as slices.
    """
    y, x = int(center_y), int(center_x)
    if x < 0 or y < 0 or x >= width or y >= height:
        return None
    left, top = int(np.round(x - 3 * sigma - 1)), int(np.round(y - 3 * sigma - 1))
    right, bottom = int(np.round(x + 3 * sigma + 2)), int(np.round(y + 3 * sigma + 2))
    win_cols = slice(max(0, -left), min(right, width) - left)
    win_rows = slice(max(0, -top), min(bottom, height) - top)
    img_cols = slice(max(0, left), min(right, width))
    img_rows = slice(max(0, top), min(bottom, height))
    return img_rows, img_cols, win_rows, win_cols


def segment_moments(index, num):
    """Pixel count and sums of row and column indices of every segment, exactly.

    Works on the runs of equal values along each row: a run of length n starting at column x0
    of row y adds n to the count, n * y to the row sum and n * x0 + n (n - 1) / 2 to the column
    sum. Runs are far fewer than pixels, so after one comparison pass everything is cheap.
    All quantities are integers below 2^53, so the float64 sums are exact and ``sum / count``
    is bit-identical to ``np.mean`` over the segment's pixel indices.

    Args:
        index (np.ndarray): ``[H, W]`` segment index map with values in ``[0, num)``.
        num (int): number of segment values.

    Returns:
        tuple: ``area`` [num] int64, ``sum_y`` [num] float64, ``sum_x`` [num] float64.
    """
    height, width = index.shape
    if index.size == 0:
        return np.zeros(num, np.int64), np.zeros(num), np.zeros(num)
    change = np.empty((height, width), dtype=bool)
    change[:, 0] = True
    np.not_equal(index[:, 1:], index[:, :-1], out=change[:, 1:])
    starts = np.flatnonzero(change)
    lengths = np.diff(starts, append=index.size)
    segment = index.reshape(-1)[starts]
    run_y, run_x = np.divmod(starts, width)
    area = np.bincount(segment, weights=lengths, minlength=num).astype(np.int64)
    sum_y = np.bincount(segment, weights=lengths * run_y, minlength=num)
    sum_x = np.bincount(segment, weights=lengths * run_x + lengths * (lengths - 1) // 2,
                        minlength=num)
    return area, sum_y, sum_x


class PanopticTargetGenerator:
    """Builds the semantic, centre and offset targets of one (augmented) panoptic label.

    For the listed segments (``segments``, COCO panoptic ``segments_info`` entries with
    ``id``, ``category_id`` (train id) and ``iscrowd``):

    - ``semantic`` [H, W] int64: ``ignore_index``, then each segment's pixels get its
      ``category_id`` (crowd too, unless ``ignore_crowd_in_semantic``).
    - ``foreground`` [H, W] int64: 1 on pixels of thing-class segments (crowd included).
    - ``center_weights`` [H, W] float32: 1 on pixels of non-crowd segments.
      ``offset_weights`` likewise, restricted to thing segments when
      ``ignore_stuff_in_offset``.
    - ``semantic_weights`` [H, W] float32: 1, or ``small_instance_weight`` on thing segments
      with fewer than ``small_instance_area`` pixels.
    - For every thing segment with pixels (crowd too), its centre ``(cy, cx)`` is the mean row
      and column of its pixels; ``center`` [1, H, W] float32 is the pixel-wise max of a
      Gaussian (``sigma``) stamped at ``(int(cy), int(cx))``, cut at the image border;
      ``offset`` [2, H, W] float32 is ``(cy - y, cx - x)`` on the segment's pixels, 0
      elsewhere; ``center_points`` lists the ``[cy, cx]`` floats in ``segments`` order.

    Pixels of unlisted ids (unlabeled, void) get semantic ``ignore_index`` and zero centre and
    offset weights. The result equals the per-segment definition exactly: centroids come from
    integer pixel-coordinate sums (exact in float64) divided once by the area, as ``np.mean``
    does; offsets are ``float32(cy) - y`` in float32 arithmetic, as with the float32
    coordinate maps of the reference.

    Args:
        ignore_index (int): semantic value of unlabeled pixels.
        rgb2id (callable): ``[H, W, 3]`` uint8 RGB -> ``[H, W]`` integer ids.
        thing_list (sequence[int]): train ids of thing classes.
        sigma (float): Gaussian standard deviation in pixels. Default 8.
        ignore_stuff_in_offset (bool): offset weights only on (non-crowd) thing segments.
        small_instance_area (int): thing segments below this pixel count get
            ``small_instance_weight`` in ``semantic_weights``. Default 0 (off).
        small_instance_weight (float): that weight. Default 1.
        ignore_crowd_in_semantic (bool): leave crowd pixels at ``ignore_index``.
    """

    def __init__(self, ignore_index, rgb2id, thing_list, sigma=8, ignore_stuff_in_offset=False,
                 small_instance_area=0, small_instance_weight=1,
                 ignore_crowd_in_semantic=False):
        self.ignore_index = ignore_index
        self.rgb2id = rgb2id
        self.thing_list = tuple(int(t) for t in thing_list)
        self.sigma = sigma
        self.ignore_stuff_in_offset = ignore_stuff_in_offset
        self.small_instance_area = small_instance_area
        self.small_instance_weight = small_instance_weight
        self.ignore_crowd_in_semantic = ignore_crowd_in_semantic
        self.g = gaussian_window(sigma).astype(np.float32)
        self._coord_cache = None

    def _coordinates(self, height, width):
        """float32 row and column maps, kept for the last image size (crops repeat it)."""
        if self._coord_cache is None or self._coord_cache[0] != (height, width):
            rows = np.arange(height, dtype=np.float32)[:, None]
            cols = np.arange(width, dtype=np.float32)[None, :]
            self._coord_cache = ((height, width), np.repeat(rows, width, axis=1),
                                 np.repeat(cols, height, axis=0))
        return self._coord_cache[1], self._coord_cache[2]

    def __call__(self, panoptic, segments):
        """Computes the targets.

        Args:
            panoptic (np.ndarray): ``[H, W, 3]`` uint8 RGB panoptic label.
            segments (list[dict]): segments with ``id``, ``category_id``, ``iscrowd``.

        Returns:
            dict: the arrays described in the class docstring, keys ``TARGET_KEYS``.
        """
        panoptic = np.asarray(panoptic)
        if panoptic.ndim != 3 or panoptic.shape[2] != 3:
            raise ValueError("panoptic label must be [H, W, 3] RGB, got shape {}".format(
                panoptic.shape))
        height, width = panoptic.shape[:2]
        num = len(segments)
        try:
            seg_ids = [int(s["id"]) for s in segments]
            cats = np.array([int(s["category_id"]) for s in segments], dtype=np.int64)
            crowd = np.array([bool(s["iscrowd"]) for s in segments], dtype=bool)
        except KeyError as err:
            raise KeyError("every segment needs 'id', 'category_id' and 'iscrowd'; "
                           "missing {}".format(err)) from None
        lookup = SegmentLookup(seg_ids)

        # Per-segment tables; the extra last entry is for unlisted pixels.
        k = num + 1
        thing = np.isin(cats, self.thing_list)
        sem_table = np.append(cats, self.ignore_index)
        if self.ignore_crowd_in_semantic:
            sem_table[:num][crowd] = self.ignore_index
        fg_table = np.append(thing, False)
        cw_table = np.append(~crowd, False)
        ow_table = cw_table & fg_table if self.ignore_stuff_in_offset else cw_table
        sem_table32 = sem_table.astype(np.int32)
        fg_table8 = fg_table.astype(np.uint8)

        # Index map, semantic and foreground by blocks of rows, so that the temporaries of the
        # id conversion stay small and cached.
        index = np.empty((height, width), dtype=lookup.dtype)
        semantic = np.empty((height, width), dtype=np.int64)
        foreground = np.empty((height, width), dtype=np.int64)
        fg_map = np.empty((height, width), dtype=np.uint8)
        block = max(1, _BLOCK_PIXELS // max(width, 1))
        for top in range(0, height, block):
            rows = slice(top, min(top + block, height))
            index[rows] = idx = lookup(np.asarray(self.rgb2id(panoptic[rows])))
            semantic[rows] = gather(sem_table32, idx)
            fg_map[rows] = fg = gather(fg_table8, idx)
            foreground[rows] = fg
        area, sum_y, sum_x = segment_moments(index, k)

        has_center = fg_table & (area > 0)
        safe_area = np.maximum(area, 1)
        cy = np.where(has_center, sum_y / safe_area, 0.0)
        cx = np.where(has_center, sum_x / safe_area, 0.0)
        sw_table = np.ones(k, dtype=np.float32)
        sw_table[has_center & (area < self.small_instance_area)] = self.small_instance_weight

        # Weights and offsets, block by block so that each block is finished while in cache.
        # Offsets on thing pixels are float32(cy) - y in float32 arithmetic, which is what the
        # per-segment definition computes with float32 coordinate maps; the centre tables are
        # 0 for other segments, so off the things the offsets stay 0.
        weights = {name: np.empty((height, width), dtype=np.float32)
                   for name in ("semantic_weights", "center_weights", "offset_weights")}
        weight_tables = {"semantic_weights": sw_table,
                         "center_weights": cw_table.astype(np.float32),
                         "offset_weights": ow_table.astype(np.float32)}
        offset = np.empty((2, height, width), dtype=np.float32)
        center_tables = (cy.astype(np.float32), cx.astype(np.float32))
        coords = self._coordinates(height, width)
        for top in range(0, height, block):
            rows = slice(top, min(top + block, height))
            idx = index[rows]
            for name, array in weights.items():
                gather(weight_tables[name], idx, out=array[rows])
            for channel in (0, 1):
                out = offset[channel, rows]
                gather(center_tables[channel], idx, out=out)
                if idx.dtype == np.uint8:
                    cv2.subtract(out, coords[channel][rows], dst=out, mask=fg_map[rows])
                else:
                    np.subtract(out, coords[channel][rows], out=out,
                                where=fg_map[rows].view(bool))

        center = np.zeros((1, height, width), dtype=np.float32)
        center_points = []
        for i in np.flatnonzero(has_center[:num]):
            center_points.append([float(cy[i]), float(cx[i])])
            bounds = window_bounds(cy[i], cx[i], self.sigma, height, width)
            if bounds is None:
                continue
            img_rows, img_cols, win_rows, win_cols = bounds
            np.maximum(center[0, img_rows, img_cols], self.g[win_rows, win_cols],
                       out=center[0, img_rows, img_cols])

        return {
            "semantic": semantic,
            "foreground": foreground,
            "center": center,
            "center_points": center_points,
            "offset": offset,
            "semantic_weights": weights["semantic_weights"],
            "center_weights": weights["center_weights"],
            "offset_weights": weights["offset_weights"],
        }
