"""Pixel grouping: every (thing) pixel joins the centre nearest to its voted location.

The rule (step 3 of docs/postprocess.md, "Algorithm"), for pixel (y, x) with offset (dy, dx):
in float32, vy = y + dy and vx = x + dx; the distance to centre (cy, cx) is
sqrt((cy - vy)^2 + (cx - vx)^2) with every operation rounded to float32; the pixel takes the
1-based index of the nearest centre, the first one on ties.

The numpy implementation never builds a K x H*W matrix:
- the fast path (:mod:`.lookup`): a small table over square cells of the image holds, for each
  cell, the id of the centre that is strictly nearest to every point of the cell, or -1; one
  OpenCV ``remap`` per row band looks every pixel's vote up in it;
- the pixels it leaves undecided (votes near a boundary between two centres' regions, or
  outside the table) take a pruned search (``grid``): their votes are binned into square
  cells; for each occupied cell a conservative bound keeps only the centres that can be nearest
  to some point of the cell (with a generous margin for float32 rounding, so every centre that
  could tie is kept, in index order), and the exact rule runs over those few candidates. It
  also handles every pixel where the table cannot be used (images wider than OpenCV's remap
  allows, more centres than the int16 table holds);
- far and non-finite votes take the rule over all centres in blocks
  (:func:`.reference.nearest_centers`, the rule of the reference implementation).
On accelerators, the paddle implementation runs the rule over all centres in blocks.
benchmarks/bench_postprocess.py times the pruned search alone (``postprocess_grid``) against
the table; all give identical ids (tests check this bit for bit).
"""
import numpy as np
import paddle

from . import _arrays, _limits, lookup, reference
from .centers import find_instance_center
from .defaults import NMS_KERNEL, THRESHOLD, TOP_K

__all__ = ["group_pixels", "get_instance_segmentation"]

# Sentinel centre coordinate: its float32 distance to any in-grid vote is inf.
_FAR = np.float32(1e30)


def _nearest(vy, vx, cy, cx, cand):
    """0-based index of the nearest centre (first on ties) for each vote, among candidates.

    Args:
        vy, vx (np.ndarray): [n] float32 voted locations.
        cy, cx (np.ndarray): [K] float32 centre coordinates.
        cand (np.ndarray): [n, M] ascending candidate indices into cy / cx per vote.
    """
    d = cy[cand]
    d -= vy[:, None]
    e = cx[cand]
    e -= vx[:, None]
    with np.errstate(over="ignore"):  # the sentinel centre's distance overflows to inf
        d *= d
        e *= e
        d += e
    np.sqrt(d, out=d)
    return cand[np.arange(cand.shape[0]), np.argmin(d, axis=1)]


def _grid_assign(vy, vx, cy, cx, height, width, budget, min_cell=_limits.MIN_CELL):
    """Exact nearest-centre labels for votes ``vy, vx`` using the cell-candidate pruning."""
    k = cy.shape[0]
    # The grid spans the votes' bounding box, limited to a generous window around the image;
    # votes outside it (or not finite) use the dense rule.
    lo_y, hi_y, lo_x, hi_x = (float(f(v)) for f, v in ((np.min, vy), (np.max, vy),
                                                          (np.min, vx), (np.max, vx)))
    if not (-height <= lo_y and hi_y <= 2.0 * height and -width <= lo_x and hi_x <= 2.0 * width):
        # Some vote is far away or NaN (NaN fails every comparison): split the votes.
        lo_y, hi_y = np.fmin.reduce(vy), np.fmax.reduce(vy)
        lo_x, hi_x = np.fmin.reduce(vx), np.fmax.reduce(vx)
        if np.isnan([lo_y, hi_y, lo_x, hi_x]).any():  # no vote has a number in a coordinate
            return reference.nearest_centers(vy, vx, cy, cx, budget)
        lo_y, hi_y = max(float(lo_y), -height), min(float(hi_y), 2.0 * height)
        lo_x, hi_x = max(float(lo_x), -width), min(float(hi_x), 2.0 * width)
        inside = (vy >= lo_y) & (vy <= hi_y) & (vx >= lo_x) & (vx <= hi_x)
        labels = np.empty(vy.shape[0], dtype=np.int64)
        outside = np.flatnonzero(~inside)
        labels[outside] = reference.nearest_centers(vy[outside], vx[outside], cy, cx, budget)
        sel = np.flatnonzero(inside)
        if sel.size:
            labels[sel] = _grid_assign(vy[sel], vx[sel], cy, cx, height, width, budget,
                                       min_cell)
        return labels

    ext_y, ext_x = hi_y - lo_y, hi_x - lo_x
    cell = max(min_cell, float(np.sqrt(ext_y * ext_x / _limits.MAX_CELLS)))
    inv = np.float32(1.0 / cell)
    lo_y32, lo_x32 = np.float32(lo_y), np.float32(lo_x)
    # The float32 binning below is monotonic, so the largest cell index is the one of the
    # bounding box's corner: no clipping pass is needed.
    grid_h = int((np.float32(hi_y) - lo_y32) * inv) + 1
    grid_w = int((np.float32(hi_x) - lo_x32) * inv) + 1
    # Truncating float -> int casts, as astype. Every per-vote array lives in one of three
    # aligned buffers (page faults of fresh per-vote arrays cost about as much as the
    # arithmetic): ``scaled`` for the float cell coordinates, ``cell_id``, and ``labels``, which
    # first holds the integer cell columns.
    n = vy.size
    scaled = _arrays.empty_aligned(2 * n, np.float32)
    np.subtract(vy, lo_y32, out=scaled[:n])
    np.subtract(vx, lo_x32, out=scaled[n:])
    scaled *= inv
    cell_id = _arrays.empty_aligned(n, np.intp)
    np.copyto(cell_id, scaled[:n], casting="unsafe")
    cell_id *= grid_w
    labels = _arrays.empty_aligned(n, np.int64)
    np.copyto(labels, scaled[n:], casting="unsafe")
    cell_id += labels
    del scaled
    seen = np.zeros(grid_h * grid_w, dtype=bool)
    seen[cell_id] = True
    occupied = np.flatnonzero(seen)

    cells, cols = _cell_candidates(occupied // grid_w, occupied % grid_w, lo_y, lo_x, cell, cy, cx)
    ncand = np.bincount(cells, minlength=occupied.size)
    starts = np.zeros(occupied.size + 1, dtype=np.intp)
    np.cumsum(ncand, out=starts[1:])

    # One table over the grid cells: the label of a cell with a single candidate, -1 for a
    # cell that needs the exact rule. Cells that hold no vote are never read.
    first = cols[starts[:-1]]
    cell_label = np.empty(grid_h * grid_w, dtype=np.int64)
    cell_label[occupied] = np.where(ncand == 1, first, -1)
    np.take(cell_label, cell_id, mode="clip", out=labels)  # "raise" would buffer the output
    if int(ncand.max()) == 1:
        return labels
    multi = np.flatnonzero(labels < 0)  # votes whose cell has more than one candidate
    rank_of_cell = np.zeros(grid_h * grid_w, dtype=np.intp)
    rank_of_cell[occupied] = np.arange(occupied.size)
    rank = rank_of_cell[cell_id[multi]]
    del cell_id

    cy_ext = np.append(cy, _FAR).astype(np.float32)
    cx_ext = np.append(cx, _FAR).astype(np.float32)
    # Votes whose cell has m > 1 candidates are evaluated in groups of similar m (next power of
    # two), so one crowded cell does not make every vote pay for its candidate count; each
    # group's [cells, m] candidate table is padded with the sentinel centre k.
    level = np.ceil(np.log2(np.maximum(ncand, 1))).astype(np.int8)
    level_px = level[rank]
    for lev in range(1, int(level.max()) + 1):
        in_level = np.flatnonzero(level == lev)
        if in_level.size == 0:
            continue
        m = int(ncand[in_level].max())
        table = np.full((in_level.size, m), k, dtype=np.intp)
        for j in range(m):  # column j holds each cell's j-th candidate, where it has one
            has = ncand[in_level] > j
            table[has, j] = cols[starts[in_level[has]] + j]
        row_of_cell = np.zeros(occupied.size, dtype=np.intp)
        row_of_cell[in_level] = np.arange(in_level.size)
        sel = np.flatnonzero(level_px == lev)
        step = max(1, budget // m)
        for s in range(0, sel.size, step):
            part = sel[s:s + step]
            labels[multi[part]] = _nearest(vy[multi[part]], vx[multi[part]], cy_ext, cx_ext,
                                           table[row_of_cell[rank[part]]])
    return labels


def _cell_candidates(gy, gx, lo_y, lo_x, cell, cy, cx):
    """Centres that can be nearest (or tied) to some point of each grid cell.

    Args:
        gy, gx (np.ndarray): [n] cell row / column indices.
        lo_y, lo_x, cell (float): grid origin and cell side.
        cy, cx (np.ndarray): [K] float32 centres.

    Returns:
        tuple: (cells, cols), the pairs (cell index into gy, centre index), sorted by cell and
        then centre. Computed in blocks of cells, so the float64 temporaries stay small.
    """
    k = cy.shape[0]
    cy64, cx64 = cy.astype(np.float64), cx.astype(np.float64)
    step = max(1, _limits.CELL_BLOCK // k)
    cells, cols = [], []
    for s in range(0, gy.size, step):
        # Cell boxes widened by one pixel, so rounding in the float32 binning cannot put a vote
        # outside its cell's box.
        y0 = (lo_y + gy[s:s + step] * cell - 1.0)[:, None]
        x0 = (lo_x + gx[s:s + step] * cell - 1.0)[:, None]
        y1, x1 = y0 + (cell + 2.0), x0 + (cell + 2.0)
        near = np.maximum(np.maximum(y0 - cy64, cy64 - y1), 0.0) ** 2
        near += np.maximum(np.maximum(x0 - cx64, cx64 - x1), 0.0) ** 2
        far = np.maximum(cy64 - y0, y1 - cy64) ** 2
        far += np.maximum(cx64 - x0, x1 - cx64) ** 2
        # Every point of a box is within sqrt(min far) of some centre, so a centre whose
        # nearest point of the box is farther than that (plus slack) is never nearest, nor
        # tied with the nearest.
        bound = far.min(axis=1, keepdims=True) * (1.0 + _limits.SLACK) ** 2
        rows, cs = np.nonzero(near <= bound)  # row-major: centres ascending within a cell
        cells.append(rows + s)
        cols.append(cs)
    return np.concatenate(cells), np.concatenate(cols)


def _votes(offsets, mask=None):
    """float32 voted locations (y + dy, x + dx) of the pixels of flat ``mask`` (or all).

    Computed in row bands, so no full-image temporary is allocated.
    """
    height, width = offsets.shape[1:]
    off_y = np.asarray(offsets[0], dtype=np.float32)
    off_x = np.asarray(offsets[1], dtype=np.float32)
    if mask is None:
        vy = (np.arange(height, dtype=np.float32)[:, None] + off_y).reshape(-1)
        vx = (np.arange(width, dtype=np.float32)[None, :] + off_x).reshape(-1)
        return vy, vx
    mask = mask.reshape(height, width)
    starts = np.zeros(height + 1, dtype=np.intp)
    np.cumsum(np.count_nonzero(mask, axis=1), out=starts[1:])
    both = _arrays.empty_aligned(2 * starts[-1], np.float32)  # one buffer: fewer page faults
    vy, vx = both[:starts[-1]], both[starts[-1]:]
    cols = np.arange(width, dtype=np.float32)
    for r in range(0, height, _limits.VOTE_BAND_ROWS):
        e = min(r + _limits.VOTE_BAND_ROWS, height)
        band = mask[r:e]
        vy[starts[r]:starts[e]] = (np.arange(r, e, dtype=np.float32)[:, None] + off_y[r:e])[band]
        vx[starts[r]:starts[e]] = (cols + off_x[r:e])[band]
    return vy, vx


def _group_by_table(cy, cx, offsets, mask, semantic, things, check_ids, budget, min_cell):
    """``table`` path of :func:`_group_numpy`: look-up, then the exact rule where undecided."""
    height, width = offsets.shape[1:]
    off_y = np.asarray(offsets[0], dtype=np.float32)
    off_x = np.asarray(offsets[1], dtype=np.float32)
    if semantic is not None:
        select = lookup.class_selector(semantic.reshape(height, width), things, check_ids)
    elif mask is not None:
        select = lookup.mask_selector(mask.reshape(height, width))
    else:
        select = None
    out = _arrays.empty_aligned(height * width, np.int64).reshape(height, width)
    flat = lookup.lookup_ids(cy, cx, off_y, off_x, out, min_cell, select)
    if flat.size:
        y = flat // width
        # The same float32 sums as :func:`_votes`.
        vy = y.astype(np.float32) + off_y.reshape(-1)[flat]
        vx = (flat - y * width).astype(np.float32) + off_x.reshape(-1)[flat]
        labels = _grid_assign(vy, vx, cy, cx, height, width, budget, min_cell)
        labels += 1
        out.reshape(-1)[flat] = labels
    return out.reshape(1, height, width)


def _group_numpy(ctr, offsets, mask=None, budget=_limits.DISTANCE_BUDGET, method="table",
                 min_cell=_limits.MIN_CELL, semantic=None, things=None, check_ids=True):
    """numpy grouping; returns [1, H, W] int64 ids (0 on unselected pixels).

    Pixels are selected by ``mask``, or by ``semantic`` [H, W] class ids in ``things`` (then
    ``check_ids`` rejects negative ids), or all are. ``method`` is "table" (remap look-up, the
    rest pruned) or "grid" (pruned search for every pixel); ``min_cell`` is the smallest cell
    side.
    """
    height, width = offsets.shape[1:]
    k = ctr.shape[0]
    if semantic is not None and not things:
        mask, semantic = np.zeros((height, width), dtype=bool), None
    if method == "table" and not (k <= lookup.MAX_CENTERS and lookup.supports(width)):
        method = "grid"
    if semantic is not None and not (method == "table" and k > 1):
        # Only the table path reads the classes itself (band by band, no full-size mask).
        mask, semantic = thing_mask_numpy(semantic, things), None
    if mask is not None:
        mask = mask.reshape(-1)
    if k == 0 or (mask is not None and not mask.any()) or k == 1:
        out = _arrays.zeros_aligned(height * width, np.int64)
        if k == 1:
            out[slice(None) if mask is None else mask] = 1
        return out.reshape(1, height, width)
    cy = ctr[:, 0].astype(np.float32)
    cx = ctr[:, 1].astype(np.float32)
    if method == "table":
        return _group_by_table(cy, cx, offsets, mask, semantic, things, check_ids, budget,
                               min_cell)
    out = _arrays.zeros_aligned(height * width, np.int64)
    vy, vx = _votes(offsets, mask)
    labels = _grid_assign(vy, vx, cy, cx, height, width, budget, min_cell)
    labels += 1
    out[slice(None) if mask is None else mask] = labels
    return out.reshape(1, height, width)


def _group_paddle(ctr, offsets, mask=None, budget=_limits.DISTANCE_BUDGET):
    """Device grouping (dense rule in bounded blocks); returns [1, H, W] int64 ids."""
    height, width = offsets.shape[1:]
    k = ctr.shape[0]
    out = paddle.zeros([height * width], dtype="int64")
    off = offsets.astype("float32")
    vy = (paddle.arange(height, dtype="float32").unsqueeze(1) + off[0]).flatten()
    vx = (paddle.arange(width, dtype="float32").unsqueeze(0) + off[1]).flatten()
    idx = None
    if mask is not None:
        idx = paddle.nonzero(mask.flatten()).flatten()
        if idx.shape[0] == 0 or k == 0:
            return out.reshape([1, height, width])
        vy, vx = paddle.gather(vy, idx), paddle.gather(vx, idx)
    elif k == 0:
        return out.reshape([1, height, width])
    cy = ctr[:, 0].astype("float32").unsqueeze(0)
    cx = ctr[:, 1].astype("float32").unsqueeze(0)
    rows = max(1, budget // k)
    labels = []
    inf = paddle.full([1], float("inf"), dtype="float32")
    for s in range(0, vy.shape[0], rows):
        d = cy - vy[s:s + rows].unsqueeze(1)
        e = cx - vx[s:s + rows].unsqueeze(1)
        dist = paddle.sqrt(d * d + e * e)
        # A non-finite vote ties every centre: take the first, as numpy's argmin does.
        dist = paddle.where(paddle.isnan(dist), inf, dist)
        labels.append(paddle.argmin(dist, axis=1))
    labels = paddle.concat(labels).astype("int64") + 1
    if idx is None:
        out = labels
    else:
        out = paddle.scatter(out, idx, labels)
    return out.reshape([1, height, width])


def _check_group_inputs(ctr, offsets, mask):
    _arrays.check_centers(ctr)
    shape = _arrays.check_ndim(offsets, "offsets", 3, lead=2)
    if mask is not None and tuple(int(s) for s in mask.shape) not in (shape[1:], (1,) + shape[1:]):
        raise ValueError(f"mask must have shape [H, W] = {list(shape[1:])}, "
                         f"got {list(mask.shape)}")


def group_pixels(ctr, offsets, mask=None, *, budget=_limits.DISTANCE_BUDGET):
    """Assign every pixel (or every pixel of ``mask``) to its nearest centre.

    Args:
        ctr (np.ndarray | Tensor): [K, 2] int (y, x) centres; K may be 0.
        offsets (np.ndarray | Tensor): [2, H, W] float, (dy, dx) from each pixel to its centre.
        mask (np.ndarray | Tensor | None): [H, W] bool; only these pixels are grouped, the
            others get 0. None groups every pixel.
        budget (int): largest number of pixel-centre distances held at once; bounds the extra
            memory (about 16 bytes each) whatever K is.

    Returns:
        np.ndarray | Tensor: [1, H, W] int64 ids in 1..K (0 outside ``mask``), same kind as
        ``offsets``.
    """
    _check_group_inputs(ctr, offsets, mask)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive int, got {budget!r}")
    if mask is not None:
        mask = mask.reshape(offsets.shape[1:])
    if _arrays.on_device(offsets):
        if not _arrays.is_tensor(ctr):
            ctr = paddle.to_tensor(np.asarray(ctr, dtype=np.int64), place=offsets.place)
        if mask is not None and not _arrays.is_tensor(mask):
            mask = paddle.to_tensor(np.asarray(mask), place=offsets.place)
        return _group_paddle(ctr, offsets, None if mask is None else mask.astype("bool"), budget)
    result = _group_numpy(_arrays.to_numpy(ctr).astype(np.int64), _arrays.to_numpy(offsets),
                          None if mask is None else _arrays.to_numpy(mask).astype(bool), budget)
    return _arrays.to_tensor(result, offsets) if _arrays.is_tensor(offsets) else result


def thing_mask_numpy(semantic, thing_list):
    """[..., H, W] bool mask of the pixels whose class is in ``thing_list`` (a lookup table).

    Raises:
        ValueError: ``semantic`` is not an integer array or holds a negative class id.
    """
    if not thing_list:
        return np.zeros(semantic.shape, dtype=bool)
    lut = np.zeros(max(_arrays.id_bound(semantic, "semantic"), thing_list[-1] + 1), dtype=bool)
    lut[thing_list] = True
    # 'clip' skips the bounds check ('raise' mode); the ids were checked.
    return np.take(lut, semantic, mode="clip")


def thing_mask_paddle(semantic, thing_list):
    """Device version of :func:`thing_mask_numpy`."""
    mask = paddle.zeros(semantic.shape, dtype="bool")
    for c in thing_list:
        mask = paddle.logical_or(mask, semantic == c)
    return mask


def _instance_numpy(semantic, ctr_hmp, offset, things, threshold, nms_kernel, top_k,
                    check_ids=True):
    """numpy instance segmentation; ``check_ids`` False trusts the class ids to be >= 0."""
    centers = find_instance_center(ctr_hmp, threshold, nms_kernel, top_k)
    height, width = offset.shape[1:]
    if centers is None:
        return np.zeros((1, height, width), dtype=np.int64), None
    return (_group_numpy(centers, offset, semantic=semantic.reshape(height, width),
                         things=things, check_ids=check_ids), centers[None])


def _instance_paddle(semantic, ctr_hmp, offset, things, threshold, nms_kernel, top_k, thing=None):
    centers = find_instance_center(ctr_hmp, threshold, nms_kernel, top_k)
    height, width = offset.shape[1:]
    if centers is None:
        return paddle.zeros([1, height, width], dtype="int64"), None
    if thing is None:
        thing = thing_mask_paddle(semantic.reshape([height, width]), things)
    return _group_paddle(centers, offset, thing), centers.unsqueeze(0)


def get_instance_segmentation(semantic, ctr_hmp, offset, thing_list, threshold=THRESHOLD,
                              nms_kernel=NMS_KERNEL, top_k=TOP_K):
    """Class-agnostic instance map of the thing pixels.

    Args:
        semantic (np.ndarray | Tensor): [1, H, W] int class ids.
        ctr_hmp (np.ndarray | Tensor): [1, H, W] float centre heatmap.
        offset (np.ndarray | Tensor): [2, H, W] float (dy, dx).
        thing_list (list[int]): thing class ids.
        threshold, nms_kernel, top_k: see :func:`find_instance_center`.

    Returns:
        tuple: instance [1, H, W] int64 (ids 1..K on thing pixels, 0 elsewhere; all 0 without
        centres) and centres [1, K, 2] int64 (y, x) or None; same kind as ``semantic``.
    """
    shape = _arrays.check_ndim(semantic, "semantic", 3, lead=1)
    hmp_shape = _arrays.check_ndim(ctr_hmp, "ctr_hmp", 3, lead=1)
    off_shape = _arrays.check_ndim(offset, "offset", 3, lead=2)
    if hmp_shape[1:] != shape[1:] or off_shape[1:] != shape[1:]:
        raise ValueError(f"semantic {list(shape)}, ctr_hmp {list(hmp_shape)} and offset "
                         f"{list(off_shape)} must share H and W")
    things = _arrays.check_thing_list(thing_list)
    if _arrays.on_device(semantic):
        ctr_hmp, offset = (x if _arrays.is_tensor(x) else _arrays.to_tensor(x, semantic)
                           for x in (ctr_hmp, offset))
        return _instance_paddle(semantic, ctr_hmp, offset, things, threshold, nms_kernel, top_k)
    instance, centers = _instance_numpy(
        _arrays.to_numpy(semantic), _arrays.to_numpy(ctr_hmp), _arrays.to_numpy(offset), things,
        threshold, nms_kernel, top_k)
    if _arrays.is_tensor(semantic):
        return _arrays.to_tensor(instance, semantic), _arrays.to_tensor(centers, semantic)
    return instance, centers
