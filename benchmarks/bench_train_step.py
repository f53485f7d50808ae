"""Speed of a training step and the share of it spent waiting for data.

Trains a few iterations of the reference model (ResNet50_vd OS32, 256-channel decoders, no
pretrained download) on the toy dataset with a small crop, once per ``--num_workers`` value,
through the real training loop (``core.train_launcher.run_training``), and reports per setting:
samples/s of a step (data included) and ``reader_cost / batch_cost``, the share of a step spent
waiting for the data loader. The first iteration of each run is left out.

    python benchmarks/bench_train_step.py                       # reference size, CPU
    python benchmarks/bench_train_step.py --model toy --iters 20
    python benchmarks/bench_train_step.py --device gpu --crop 1025 513 --batch_size 8

Prints a table and writes ``benchmarks/results/bench_train_step.json``.
"""
import argparse
import os
import shutil
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

from paddleseg_panoptic.core.train_launcher import run_training  # noqa: E402
from paddleseg_panoptic.datasets.toy_cityscapes import make_toy_cityscapes  # noqa: E402
from _results import CONFIGS, result_path, write_json  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="r50")
    parser.add_argument("--data_root", default=None,
                        help="a Cityscapes-format root (default: a toy set made in a temp dir)")
    parser.add_argument("--crop", type=int, nargs=2, default=[257, 129], metavar=("W", "H"))
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--num_workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu")
    parser.add_argument("--out", default=result_path("bench_train_step.json"))
    return parser.parse_args()


def main():
    args = parse_args()
    work = tempfile.mkdtemp(prefix="bench_train_")
    root = args.data_root
    if root is None:
        root = os.path.join(work, "toy")
        # Toy images are 256 x 512 (H x W): big enough for crops up to 513 x 257.
        make_toy_cityscapes(root, num_train=8, num_val=1, height=256, width=512, seed=0)
    results = []
    for workers in args.num_workers:
        opts = ["train_dataset.dataset_root=" + root, "val_dataset.dataset_root=" + root,
                "train_dataset.transforms.1.crop_size=[{},{}]".format(*args.crop),
                "model.backbone.pretrained=null"]
        start = time.time()
        summary = run_training(
            os.path.join(REPO, CONFIGS[args.model]), iters=args.iters,
            batch_size=args.batch_size, opts=opts,
            save_dir=os.path.join(work, "out_{}".format(workers)),
            save_interval=10 ** 9, keep_checkpoint_max=1, num_workers=workers,
            log_iters=10 ** 9, device=args.device, seed=0)
        timing = summary["timing"]
        results.append({
            "num_workers": workers,
            "iterations_timed": timing["iterations"],
            "batch_cost_s": round(timing["batch_cost"], 4),
            "reader_cost_s": round(timing["reader_cost"], 4),
            "samples_per_s": round(args.batch_size / timing["batch_cost"], 3),
            "data_wait_share": round(timing["reader_cost"] / timing["batch_cost"], 4),
            "wall_s": round(time.time() - start, 1),
        })
    record = {"benchmark": "train_step", "model": args.model, "crop_wh": args.crop,
              "batch_size": args.batch_size, "iters": args.iters, "device": args.device,
              "paddle": paddle.__version__, "cpu_count": os.cpu_count(),
              "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
              "results": results}
    print("model {} crop {}x{} batch {} on {} ({} CPUs)".format(
        args.model, args.crop[0], args.crop[1], args.batch_size, args.device, os.cpu_count()))
    print("{:>11} {:>12} {:>13} {:>10} {:>10}".format(
        "num_workers", "samples/s", "batch_cost s", "reader s", "data wait"))
    for r in results:
        print("{:>11} {:>12.3f} {:>13.4f} {:>10.4f} {:>9.1f}%".format(
            r["num_workers"], r["samples_per_s"], r["batch_cost_s"], r["reader_cost_s"],
            100 * r["data_wait_share"]))
    write_json(args.out, record)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
