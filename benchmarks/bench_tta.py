r"""Cost of test-time augmentation: time per image of ``predict_image`` (network + TTA
averaging + post-processing) for several settings, as a factor of the plain prediction.

A random model built from the config (the time does not depend on the weights) on a random
image; the same image for every setting, settings interleaved over the repeats so that the
load of a shared machine hits them alike. Times are medians (wall and CPU).

Usage:
    python benchmarks/bench_tta.py \
        --config configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml \
        --height 256 --width 512 --repeats 5 [--device cpu]
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402,F401  (before paddle)
import numpy as np  # noqa: E402
import paddle  # noqa: E402

from paddleseg_panoptic.core import predict as P  # noqa: E402
from paddleseg_panoptic.core.tta import TTA  # noqa: E402
from paddleseg_panoptic.cvlibs.config import Config  # noqa: E402
from paddleseg_panoptic.datasets.facts import DatasetFacts  # noqa: E402
from _results import result_path, write_json  # noqa: E402

SETTINGS = {
    "plain": TTA(),
    "flip": TTA((1.0,), True),
    "scales 0.75 1.0 1.25": TTA((0.75, 1.0, 1.25)),
    "scales 0.75 1.0 1.25 + flip": TTA((0.75, 1.0, 1.25), True),
    "scales 0.5 0.75 1.0 1.25 1.5 1.75 + flip": TTA((0.5, 0.75, 1.0, 1.25, 1.5, 1.75), True),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None, help="e.g. cpu or gpu (default: Paddle's)")
    parser.add_argument("--out", default=result_path("tta.json"))
    args = parser.parse_args()
    if args.device:
        paddle.set_device(args.device)
    cfg = Config(args.config)
    paddle.seed(0)
    model = cfg.build_model(load_pretrained=False)
    model.eval()
    facts = DatasetFacts.from_config(cfg)
    transforms = P.prediction_transforms(cfg.val_transforms)
    image = np.random.RandomState(0).randint(0, 256, (args.height, args.width, 3)).astype(
        np.uint8)
    for tta in SETTINGS.values():      # warm-up: allocator and kernels for every size
        P.predict_image(model, image, transforms, facts, tta=tta)
    wall = {name: [] for name in SETTINGS}
    cpu = {name: [] for name in SETTINGS}
    for _ in range(args.repeats):
        for name, tta in SETTINGS.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            P.predict_image(model, image, transforms, facts, tta=tta)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    rows = {}
    base_wall, base_cpu = statistics.median(wall["plain"]), statistics.median(cpu["plain"])
    for name, tta in SETTINGS.items():
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        rows[name] = {"passes": len(tta.passes), "median_ms": round(1000 * w, 1),
                      "cpu_ms": round(1000 * c, 1), "factor": round(w / base_wall, 2),
                      "cpu_factor": round(c / base_cpu, 2)}
        print("{:<42} passes {:>2}  {:8.1f} ms  x{:.2f}  (CPU x{:.2f})".format(
            name, len(tta.passes), 1000 * w, w / base_wall, c / base_cpu))
    report = {"config": args.config, "size": [args.height, args.width],
              "repeats": args.repeats, "device": paddle.get_device(), "settings": rows,
              "machine": platform.platform(), "cpus": os.cpu_count(),
              "paddle": paddle.__version__}
    write_json(args.out, report)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
