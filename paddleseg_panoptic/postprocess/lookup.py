"""Nearest-centre ids by table look-up: the numpy fast path of pixel grouping.

The image is cut into square cells. A small table holds, for each cell, the 1-based id of the
centre that is strictly nearest to every point of the cell, or -1 where that is not certain
(near the boundary between two centres' regions). One OpenCV ``remap`` (nearest neighbour)
per cache-sized row band looks every pixel's voted location up in the table and writes the
int64 ids. Pixels whose vote lands on a -1 cell or outside the table (far or non-finite votes)
are returned to the caller, which applies the exact rule to them.
"""
import math

import cv2
import numpy as np

from . import _arrays, _limits

# Largest K the int16 table can hold.
MAX_CENTERS = np.iinfo(np.int16).max
# Largest table (remap's source must be under 32767 pixels a side; the table is padded to twice
# its height).
_MAX_TABLE_ROWS = 16000
_MAX_TABLE_COLS = 32000


def supports(width):
    """Whether images this wide can use the look-up (remap writes under 32767 columns)."""
    return width <= _MAX_TABLE_COLS


def cell_table(cy, cx, height, width, min_cell=_limits.MIN_CELL):
    """Cell side and int16 [gh, gw] table of the 1-based centre nearest to each whole cell.

    Cell (i, j) covers [i * cell, (i + 1) * cell) x [j * cell, (j + 1) * cell), widened by one
    pixel on every side (votes are binned with a little float32 rounding). With p the cell's
    middle, r the half diagonal of the widened cell and d1 <= d2 the distances from p to its
    two nearest centres, every point q of the cell has |q - c1| <= d1 + r and
    |q - cj| >= d2 - r for every other centre: when d2 - d1 exceeds 2r by a margin far larger
    than the float32 rounding of the rule (1e-4 of the distances), c1 is the strict nearest
    centre of every vote in the cell. Other cells hold -1.

    Args:
        cy, cx (np.ndarray): [K] float32 centre coordinates, 0 < K <= MAX_CENTERS.
        height, width (int): image size.
        min_cell (float): smallest cell side.
    """
    k = cy.shape[0]
    cell = max(int(math.ceil(min_cell)),
               int(math.ceil(math.sqrt(height * width / _limits.MAX_CELLS))),
               # remap's source is under 2^15 a side, and the table is padded to twice its height
               -(-height // _MAX_TABLE_ROWS), -(-width // _MAX_TABLE_COLS))
    grid_h, grid_w = -(-height // cell), -(-width // cell)
    # float32 is plenty: its rounding (~1e-7 relative) is far below the margin.
    mid_y = ((np.arange(grid_h) + 0.5) * cell).astype(np.float32)
    mid_x = ((np.arange(grid_w) + 0.5) * cell).astype(np.float32)
    reach = np.float32(2.0 * math.sqrt(2.0) * (cell / 2.0 + 1.0))  # 2r
    dy = (cy[:, None] - mid_y) ** 2  # [K, gh]
    dx = ((cx[:, None] - mid_x) ** 2)[:, None, :]  # [K, 1, gw]
    index = np.arange(k, dtype=np.int32)[:, None]
    table = np.empty((grid_h, grid_w), dtype=np.int16)
    rows = max(1, _limits.CELL_BLOCK // (k * grid_w))
    for s in range(0, grid_h, rows):
        # [K, rows, gw]: centres first, so the reductions over them are element-wise.
        sq = dy[:, s:s + rows, None] + dx
        d1 = np.sqrt(sq.min(axis=0))
        # The cell is decided when its nearest centre is the only one within
        # d1 + 2r + margin; that centre's index is then the sum below (element-wise over
        # the centres: no reduction along a short axis, no BLAS thread pool).
        limit = d1 + reach + np.float32(_limits.SLACK) * (2 * d1 + 2 * reach)
        close = (sq <= (limit * limit)[None]).reshape(k, -1)
        count = np.add.reduce(close, axis=0, dtype=np.int32)
        first = np.add.reduce(close * index, axis=0)
        table[s:s + rows] = np.where(count == 1, first + 1, -1).reshape(-1, grid_w)
    return cell, table


def remap_copies_int64():
    """Whether ``cv2.remap`` (nearest) copies int64 bit patterns seen as float64 unchanged.

    Nearest-neighbour remapping only moves elements, so small ids (denormal doubles) and the
    border value -1.0 (a negative int64) come through bit for bit; checked once, on values
    that would not survive arithmetic (a few microseconds, checked on every look-up).
    Otherwise the look-up goes through int32.
    """
    ids = np.array([[1, 2, 3, 1 << 40]], dtype=np.int64)
    xs = np.array([[0.0, 1.0, 2.0, 3.0, 9.0]], dtype=np.float32)
    got = cv2.remap(ids.view(np.float64), xs, np.zeros_like(xs), cv2.INTER_NEAREST,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0).view(np.int64)
    return bool((got[0, :4] == ids[0]).all() and got[0, 4] < 0)


def _band_grids(rows, width, cell, grid_h):
    """[rows, W] float32 map offsets of a band.

    The map of vote v = (y + dy, x + dx) is v / cell - 0.5, which remap rounds to the
    nearest integer: the cell holding v (up to rounding, which the widened cells cover). Each
    band reads the table from its own first cell row, above which the table is padded with
    ``grid_h`` rows of -1, so the row offsets are the same for every band.
    """
    grids = np.empty((2, rows, width), np.float32)
    inv = np.float32(1.0 / cell)
    grids[0] = (np.arange(rows, dtype=np.float32) * inv + np.float32(grid_h - 0.5))[:, None]
    grids[1] = np.arange(width, dtype=np.float32) * inv - np.float32(0.5)
    return grids[0], grids[1]


def mask_selector(mask):
    """Selector keeping the pixels of [H, W] bool ``mask``."""
    def select(rows, ids, dst):
        np.multiply(ids, mask[rows], out=dst)
    return select


def class_selector(semantic, things, check_ids=True):
    """Selector keeping the pixels whose [H, W] ``semantic`` class is in sorted ``things``.

    ``check_ids`` rejects negative class ids (ValueError); larger ids than every thing class
    are simply not things.
    """
    # int64 0 / 1 factor per class; one entry past the largest thing class stands for every
    # larger id ('clip').
    lut = np.zeros(things[-1] + 2, dtype=np.int64)
    lut[things] = 1

    def select(rows, ids, dst):
        sem = semantic[rows]
        factor = np.take(lut, sem, mode="clip")
        if check_ids:
            _arrays.id_bound(sem, "semantic")
        np.multiply(ids, factor, out=dst)
    return select


def lookup_ids(cy, cx, off_y, off_x, out, min_cell=_limits.MIN_CELL, select=None):
    """Write the 1-based id of each pixel's nearest centre into [H, W] int64 ``out``.

    Args:
        cy, cx (np.ndarray): [K] float32 centres, 0 < K <= MAX_CENTERS.
        off_y, off_x (np.ndarray): [H, W] float32 offsets (dy, dx).
        out (np.ndarray): [H, W] int64, C-contiguous; every pixel is written.
        min_cell (float): smallest cell side.
        select: None (all pixels) or a selector (:func:`mask_selector`,
            :func:`class_selector`) whose unselected pixels get 0.

    Returns:
        np.ndarray: flat indices of the selected pixels left undecided (``out`` holds a
        negative value there); the caller applies the exact rule to them.
    """
    height, width = out.shape
    cell, table = cell_table(cy, cx, height, width, min_cell)
    grid_h = table.shape[0]
    band = cell * max(1, min(_limits.LOOKUP_BAND_PIXELS // (width * cell),
                             _MAX_TABLE_ROWS // cell))
    rows = min(band, height)
    # Where remap copies int64 ids (seen as float64) unchanged, it writes ``out`` directly;
    # otherwise it writes int32 ids that are then widened.
    direct = remap_copies_int64()
    padded = np.full((2 * grid_h, table.shape[1]), -1, dtype=np.int64 if direct else np.int32)
    padded[grid_h:] = table
    if direct:
        padded = padded.view(np.float64)
    grid_y, grid_x = _band_grids(rows, width, cell, grid_h)
    map_y = np.empty((rows, width), np.float32)
    map_x = np.empty((rows, width), np.float32)
    ids32 = None if direct else np.empty((rows, width), np.int32)
    inv = 1.0 / cell
    undecided = []
    for r in range(0, height, band):
        n = min(band, height - r)
        part = slice(r, r + n)
        dst = out[part]
        cv2.scaleAdd(off_y[part], inv, grid_y[:n], dst=map_y[:n])
        cv2.scaleAdd(off_x[part], inv, grid_x[:n], dst=map_x[:n])
        ids = dst if direct else ids32[:n]
        target = dst.view(np.float64) if direct else ids
        written = cv2.remap(padded[r // cell:], map_x[:n], map_y[:n], cv2.INTER_NEAREST,
                            dst=target, borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)
        if written is not target:  # not expected: OpenCV allocated its own output
            target[...] = written
        if select is not None:
            select(part, ids, dst)
        elif not direct:
            dst[...] = ids
        if dst.min() < 0:
            undecided.append(np.flatnonzero(dst < 0) + r * width)
    return np.concatenate(undecided) if undecided else np.zeros(0, dtype=np.intp)
