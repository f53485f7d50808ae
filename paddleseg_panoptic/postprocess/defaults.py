"""Post-processing defaults, defined once for every function, tool and config."""

THRESHOLD = 0.1
NMS_KERNEL = 7
TOP_K = 200
