"""Training-target generation speed: the package's one-pass generator against the obvious
per-segment implementation, on a 1024x2048 Cityscapes-like label with ~40 segments.

    python benchmarks/bench_targets.py [--repeats 7] [--out benchmarks/results/targets.json]

Prints the median wall-clock (and process CPU) milliseconds per label of both, their ratio, and
whether all outputs are identical; also the cost of the check every dataset sample gets first
(``segment_id_check_ms``: ids from the RGB label, every non-zero id listed in segments_info);
writes the same as JSON. The per-segment version lives in
``tests/data_slow_reference.py`` (it scans the image once per segment, as the reference does).
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
from paddleseg_panoptic.datasets.panoptic import check_segment_ids  # noqa: E402
from paddleseg_panoptic.transforms import PanopticTargetGenerator  # noqa: E402
from paddleseg_panoptic.utils.panoptic_ids import id2rgb, rgb2id  # noqa: E402
from _results import result_path, write_json  # noqa: E402

# (label id, train id) of the classes used below.
STUFF = [(7, 0), (8, 1), (11, 2), (12, 3), (13, 4), (17, 5), (19, 6), (20, 7), (21, 8), (22, 9),
         (23, 10)]
THINGS = [(24, 11), (25, 12), (26, 13), (27, 14), (28, 15), (31, 16), (32, 17), (33, 18)]


def make_label(height=1024, width=2048, num_instances=25, seed=0):
    """A street-like panoptic label: 11 stuff classes, ``num_instances`` thing instances on a
    jittered grid (overlapping their neighbours, the first column and the bottom row cut by
    the border), 4 crowd regions and some void. Returns (rgb [H, W, 3] uint8, segments)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((height, width), dtype=np.int64)
    for top, bottom, label in [(0, 0.3, 23), (0.25, 0.55, 11), (0.55, 0.8, 7), (0.8, 1.0, 8)]:
        ids[int(top * height):int(bottom * height)] = label
    for j, (label, _) in enumerate(STUFF[3:10]):
        if label in (7, 8, 11, 23):
            continue
        y, x = int(height * 0.05), int(width * (0.05 + 0.13 * j))
        ids[y:y + int(rng.integers(40, 200)), x:x + int(rng.integers(40, 200))] = label
    ids[int(height * 0.5):int(height * 0.6), :int(width * 0.1)] = 22  # terrain
    ids[int(height * 0.2):int(height * 0.3), int(width * 0.9):] = 21  # vegetation
    grid = int(np.ceil(np.sqrt(num_instances)))
    cell_h, cell_w = 0.6 * height / grid, width / grid
    for k in range(num_instances):
        label = THINGS[k % len(THINGS)][0]
        row, col = divmod(k, grid)
        h = int(cell_h * rng.uniform(0.6, 1.3))
        w = int(cell_w * rng.uniform(0.5, 1.2))
        y = int(0.35 * height + row * cell_h + rng.uniform(-0.1, 0.2) * cell_h)
        x = int(col * cell_w + rng.uniform(-0.3, 0.2) * cell_w)
        ids[max(y, 0):y + h, max(x, 0):x + w] = label * 1000 + k
    for j, label in enumerate((24, 26, 33, 25)):  # crowd regions: label id, no instance
        y, x = int(0.3 * height), int(width * (0.1 + 0.22 * j))
        ids[y:y + 60, x:x + 150] = label
    ids[height - 40:, :width // 5] = 0  # void (ego vehicle)
    train = dict(STUFF + THINGS)
    segments = []
    for i in np.unique(ids):
        if i == 0:
            continue
        lid = int(i) // 1000 if i >= 1000 else int(i)
        segments.append({"id": int(i), "category_id": train[lid],
                         "iscrowd": int(i < 1000 and lid >= 24)})
    return id2rgb(ids), segments


def median_ms(fn, repeats):
    """Median wall-clock and process CPU milliseconds of ``fn()`` over ``repeats`` runs."""
    fn()  # warm-up: first-touch page faults, caches
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start_wall) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


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
    parser.add_argument("--out", default=result_path("targets.json"))
    args = parser.parse_args()

    rgb, segments = make_label(args.height, args.width)
    kwargs = dict(ignore_stuff_in_offset=True, small_instance_area=4096, small_instance_weight=3)
    fast = PanopticTargetGenerator(IGNORE_INDEX, rgb2id, THING_LIST, sigma=8, **kwargs)
    fast_ms, fast_cpu = median_ms(lambda: fast(rgb, segments), args.repeats)
    slow_ms, slow_cpu = median_ms(lambda: slow_targets(rgb, segments, IGNORE_INDEX, THING_LIST,
                                                       8, **kwargs), args.repeats)
    check_ms, _ = median_ms(lambda: check_segment_ids(rgb2id(rgb), segments, "label"),
                            args.repeats)
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
        "per_segment_cpu_ms": round(slow_cpu, 2),
        "package_cpu_ms": round(fast_cpu, 2),
        "speedup_cpu": round(slow_cpu / fast_cpu, 2),
        "segment_id_check_ms": round(check_ms, 2),
        "identical_outputs": identical,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    write_json(args.out, result)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
