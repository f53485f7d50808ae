"""Sizes and margins of the numpy post-processing, in one place.

None of them changes a result: they set how the work is cut into blocks (memory and cache
use) and which exact method handles which pixels. benchmarks/bench_postprocess.py measures
the effect of the choices (docs/postprocess.md, "Benchmark").
"""
# Rows of the [C, rows, W] blocks in which the argmax and softmax run: small enough for the
# block to stay in cache between the passes over it.
ARGMAX_ROWS = 8

# Side of the square tiles of the non-maximum suppression; only tiles holding a value above
# the threshold (with a halo) are filtered.
NMS_TILE = 32

# Largest number of pixel-centre distances computed at once by the exact grouping rule
# (about 16 bytes each with the temporaries, i.e. ~32 MB).
DISTANCE_BUDGET = 1 << 21

# Elements of the [cells, centres] blocks in which the cells' candidate centres and the
# look-up table are computed.
CELL_BLOCK = 1 << 18

# Cells of the look-up table and of the candidate grid: at least MIN_CELL pixels a side, at
# most about MAX_CELLS cells (each costs K distances to build).
MIN_CELL = 16
MAX_CELLS = 1 << 13

# Relative margin on distances when a cell's nearest centre is decided, or a centre ruled
# out, ahead of the exact rule: float32 rounding of a distance is below 1e-6 relative, so
# every centre that could tie survives.
SLACK = 1e-4

# Row bands: rows of the bands in which votes are computed, and pixels per band of the
# look-up (its float32 maps stay in cache).
VOTE_BAND_ROWS = 64
LOOKUP_BAND_PIXELS = 1 << 17

# Fusion: smallest mean run length of equal (class, id) pairs for which runs are counted
# rather than pixels; above MAX_DIRECT_IDS distinct id slots, ids are ranked first.
MIN_MEAN_RUN = 8
MAX_DIRECT_IDS = 1 << 20
