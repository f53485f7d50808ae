"""Cost of the "are all weights finite" check that training runs after every step and before
every save, next to the cost of writing the weights it guards.

Builds the model of a config (no pretrained download) and times, median of ``--repeat`` runs:
``nonfinite_keys(model)`` (the per-step check: one sum per tensor, one transfer), the exact
per-element test it replaces (``isfinite(t).all()`` per tensor) and ``paddle.save`` of the
state dict (what a checkpoint writes first).

    python benchmarks/bench_finite_check.py                 # reference ResNet50 model, CPU
    python benchmarks/bench_finite_check.py --model toy
    python benchmarks/bench_finite_check.py --device gpu

Prints a table and writes ``benchmarks/results/bench_finite_check.json``.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
try:
    import paddleseg_panoptic  # noqa: F401
except ImportError:
    sys.path.insert(0, REPO)
    import paddleseg_panoptic  # noqa: F401

import paddle  # noqa: E402

from paddleseg_panoptic.cvlibs.config import Config  # noqa: E402
from paddleseg_panoptic.utils.weights import nonfinite_keys  # noqa: E402
from _results import CONFIGS, result_path, write_json  # noqa: E402


def _median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _exact(model):
    return [k for k, v in model.state_dict().items()
            if v.is_floating_point() and not bool(paddle.isfinite(v).all())]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="r50")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    paddle.set_device(args.device)
    model = Config(os.path.join(REPO, CONFIGS[args.model])).build_model(load_pretrained=False)
    state = model.state_dict()
    numbers = {"model": args.model, "device": args.device, "tensors": len(state),
               "elements": int(sum(int(v.size) for v in state.values())),
               "paddle": paddle.__version__}
    nonfinite_keys(model)  # warm-up
    numbers["check_ms"] = _median_ms(lambda: nonfinite_keys(model), args.repeat)
    numbers["exact_check_ms"] = _median_ms(lambda: _exact(model), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pdparams")
        numbers["save_ms"] = _median_ms(lambda: paddle.save(model.state_dict(), path),
                                        max(1, args.repeat // 2))
    print("{model} on {device}: {tensors} tensors, {elements} values".format(**numbers))
    print("  check (sums)   {:8.1f} ms".format(numbers["check_ms"]))
    print("  exact isfinite {:8.1f} ms".format(numbers["exact_check_ms"]))
    print("  paddle.save    {:8.1f} ms".format(numbers["save_ms"]))
    write_json(result_path("bench_finite_check.json"), numbers)


if __name__ == "__main__":
    main()
