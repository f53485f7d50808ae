"""Training-target generation speed: the package's one-pass generator against the obvious
per-segment implementation, on a 1024x2048 Cityscapes-like label with ~40 segments.

    python benchmarks/bench_targets.py [--repeats 7] [--out benchmarks/results/targets.json]

Prints the median milliseconds per label of both, their ratio, and whether all outputs are
identical; writes the same as JSON.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from data_slow_reference import slow_targets  # noqa: E402
from paddleseg_panoptic.datasets.meta import IGNORE_INDEX, THING_LIST  # noqa: E402
from paddleseg_panoptic.transforms import PanopticTargetGenerator, rgb2id  # noqa: E402

# (label id, train id) of the classes used below.
STUFF = [(7, 0), (8, 1), (11, 2), (12, 3), (13, 4), (17, 5), (19, 6), (20, 7), (21, 8), (22, 9),
         (23, 10)]
THINGS = [(24, 11), (25, 12), (26, 13), (27, 14), (28, 15), (31, 16), (32, 17), (33, 18)]


def make_label(height=1024, width=2048, num_instances=25, seed=0):
    """A street-like panoptic label: stuff bands and boxes, 25 instances (some cut by the
    border, overlapping each other), 4 crowd regions, some void. Returns (rgb, segments)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((height, width), dtype=np.int64)
    bands = [(0, 0.3, 23), (0.25, 0.55, 11), (0.55, 0.8, 7), (0.8, 1.0, 8)]
    for top, bottom, label in bands:
        ids[int(top * height):int(bottom * height)] = label
    for label, _ in STUFF[3:10]:
        y, x = rng.integers(0, height - 64), rng.integers(0, width - 64)
        ids[y:y + rng.integers(16, 160), x:x + rng.integers(16, 160)] = label
    for k in range(num_instances):
        label = THINGS[k % len(THINGS)][0]
        h, w = rng.integers(12, 260), rng.integers(12, 360)
        y, x = rng.integers(-h // 2, height - h // 2), rng.integers(-w // 2, width - w // 2)
        ids[max(y, 0):y + h, max(x, 0):x + w] = label * 1000 + k
    for label in (24, 26, 33, 26):
        y, x = rng.integers(0, height - 100), rng.integers(0, width - 200)
        ids[y:y + 90, x:x + 180] = label
    ids[height - 40:, :width // 5] = 0  # void (ego vehicle)
    train = dict(STUFF + THINGS)
    segments = [{"id": int(i), "category_id": train[int(i) // 1000 if i >= 1000 else int(i)],
                 "iscrowd": int(i < 1000 and (i // 1000 if i >= 1000 else i) >= 24)}
                for i in np.unique(ids) if i != 0]
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
    return rgb, segments


def median_ms(fn, repeats):
    fn()  # warm-up: first-touch page faults, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def outputs_equal(a, b):
    for key in a:
        if key == "center_points":
            same = [[float(v) for v in p] for p in a[key]] == [[float(v) for v in p]
                                                               for p in b[key]]
        else:
            same = a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key])
        if not same:
            return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per implementation")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results",
                                                      "targets.json"))
    args = parser.parse_args()

    rgb, segments = make_label(args.height, args.width)
    kwargs = dict(ignore_stuff_in_offset=True, small_instance_area=4096, small_instance_weight=3)
    fast = PanopticTargetGenerator(IGNORE_INDEX, rgb2id, THING_LIST, sigma=8, **kwargs)
    fast_ms = median_ms(lambda: fast(rgb, segments), args.repeats)
    slow_ms = median_ms(lambda: slow_targets(rgb, segments, IGNORE_INDEX, THING_LIST, 8,
                                             **kwargs), args.repeats)
    identical = outputs_equal(fast(rgb, segments),
                              slow_targets(rgb, segments, IGNORE_INDEX, THING_LIST, 8, **kwargs))
    result = {
        "label_size_hw": [args.height, args.width],
        "num_segments": len(segments),
        "num_instances": sum(1 for s in segments if s["id"] >= 1000),
        "num_crowd": sum(1 for s in segments if s["iscrowd"]),
        "repeats": args.repeats,
        "per_segment_ms": round(slow_ms, 2),
        "package_ms": round(fast_ms, 2),
        "speedup": round(slow_ms / fast_ms, 2),
        "identical_outputs": identical,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
