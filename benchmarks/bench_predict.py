"""Per-image cost of prediction outside the network: writing the pictures, the id PNG and the
segments JSON of a 1024x2048 result (``save_outputs``), and its parts.

The result is synthetic but Cityscapes-like: stuff blocks of all classes and about 200 thing
instances, a random softmax. Times are medians in ms over ``--repeats`` runs.

Usage: python benchmarks/bench_predict.py [--repeats 5] [--out benchmarks/results/predict.json]
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddleseg_panoptic.core import predict as P  # noqa: E402
from paddleseg_panoptic.utils import visualize as vis  # noqa: E402
from _results import result_path, write_json  # noqa: E402


def make_result(height=1024, width=2048, seed=0):
    rng = np.random.RandomState(seed)
    semantic = rng.randint(0, 19, (height // 64, width // 64)).repeat(64, 0).repeat(64, 1)
    instance = rng.randint(1, 30, (height // 32, width // 32)).repeat(32, 0).repeat(32, 1)
    panoptic = semantic.copy()
    thing = semantic >= 11
    panoptic[thing] = semantic[thing] * 1000 + instance[thing]
    panoptic[rng.rand(height, width) < 0.01] = 255
    softmax = rng.rand(19, height, width).astype(np.float32)
    image = rng.randint(0, 256, (height, width, 3)).astype(np.uint8)
    return {"semantic": semantic, "panoptic": panoptic, "semantic_softmax": softmax}, image


def median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=result_path("predict.json"))
    args = parser.parse_args()
    result, image = make_result()
    panoptic = result["panoptic"]
    rgb = image[..., ::-1].copy()
    with tempfile.TemporaryDirectory() as tmp:
        item = P.ImageItem(os.path.join(tmp, "x.png"), "x")
        timings = {
            "save_outputs": median_ms(lambda: P.save_outputs(result, image, tmp, item),
                                      args.repeats),
            "colorize_panoptic": median_ms(lambda: vis.colorize_panoptic(panoptic),
                                           args.repeats),
            "colorize_instance": median_ms(lambda: vis.colorize_instance(panoptic),
                                           args.repeats),
            "colorize_semantic": median_ms(lambda: vis.colorize_semantic(result["semantic"]),
                                           args.repeats),
            "segments_info": median_ms(
                lambda: vis.segments_info(panoptic, result["semantic_softmax"]), args.repeats),
            "blend": median_ms(lambda: vis.blend(rgb, rgb), args.repeats),
            "write_png_noise": median_ms(
                lambda: vis.write_png(os.path.join(tmp, "n.png"), rgb), args.repeats),
        }
    report = {"size": [1024, 2048], "segments": int(len(vis.segment_ids(panoptic))),
              "median_ms": timings, "machine": platform.platform(),
              "cpus": os.cpu_count()}
    print(json.dumps(report, indent=2))
    write_json(args.out, report)


if __name__ == "__main__":
    main()
