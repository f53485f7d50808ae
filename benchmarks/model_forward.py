r"""Forward-pass latency of PanopticDeepLab built from a config (eval mode, no grad).

Usage:
    python benchmarks/model_forward.py \
        --config configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml \
        --height 257 --width 513 --repeat 5

Prints a JSON line and writes it to benchmarks/results/model_forward_<config name>.json.
"""
import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paddleseg_panoptic  # noqa: E402,F401  (imports cv2 before paddle)
import paddle  # noqa: E402
from paddleseg_panoptic.cvlibs import Config  # noqa: E402
from paddleseg_panoptic.cvlibs.builder import build_object  # noqa: E402
from _results import result_path, write_json  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--height", type=int, default=257)
    parser.add_argument("--width", type=int, default=513)
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--num_classes", type=int, default=19)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default=None, help="e.g. cpu or gpu:0 (default: Paddle's)")
    args = parser.parse_args()
    if args.device:
        paddle.set_device(args.device)

    cfg = Config(args.config)
    # num_classes given explicitly and no pretrained: the benchmark needs neither data nor net.
    spec = cfg.dic["model"]
    spec.setdefault("num_classes", args.num_classes)
    model = build_object(spec, "model", cfg.path, strip_pretrained=True)
    model.eval()
    x = paddle.rand([args.batch_size, 3, args.height, args.width])
    with paddle.no_grad():
        for _ in range(args.warmup):
            [o.numpy() for o in model(x)]
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            [o.numpy() for o in model(x)]   # .numpy() waits for the device
            times.append(time.perf_counter() - start)
    result = {
        "benchmark": "model_forward", "config": os.path.basename(args.config),
        "input": [args.batch_size, 3, args.height, args.width],
        "device": paddle.get_device(), "threads": os.cpu_count(),
        "paddle": paddle.__version__, "python": platform.python_version(),
        "params": int(sum(int(p.numel()) for p in model.parameters())),
        "median_s": sorted(times)[len(times) // 2], "min_s": min(times), "repeat": args.repeat,
    }
    print(json.dumps(result))
    name = os.path.splitext(os.path.basename(args.config))[0]
    write_json(result_path("model_forward_{}.json".format(name)), result)


if __name__ == "__main__":
    main()
