"""How far the CPU quick-start recipe and its variants get on the hard toy set.

Each variant makes (once) its hard toy data set, trains from scratch with ``tools/train.py``
(one process, CPU, seed 0), evaluates the last checkpoint with ``tools/val.py`` and records
PQ, things PQ, stuff PQ, mIoU, the training's wall time and its CPU time (user + sys of the
training process and its data loader workers). On a shared machine wall time depends on the
load; CPU time does not, and Paddle's CPU kernels here run on about one core, so CPU minutes
are the uncontended training minutes (quoted in docs/benchmarks.md).

    python benchmarks/bench_learning.py                       # every variant (hours)
    python benchmarks/bench_learning.py --variants recipe     # the demo's recipe only
    python benchmarks/bench_learning.py --list

Not part of the tests. Prints a table and writes ``benchmarks/results/bench_learning.json``.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import result_path, write_json  # noqa: E402

RECIPE = "configs/quick_start/panoptic_deeplab_resnet18_os32_demo.yml"

# The demo's data: hard toy scenes, 200 training and 20 validation images.
NUM_TRAIN, NUM_VAL = 200, 20

# name -> (image height, width, iterations, extra tools/train.py arguments, what changes).
VARIANTS = {
    "recipe": (128, 256, 225, [], "the demo's recipe"),
    "recipe_100": (128, 256, 100, [], "the recipe's schedule squeezed into 100 iterations"),
    "batch4": (128, 256, 450, ["--batch_size", "4"], "batch 4, twice the iterations"),
    "batch4_200": (128, 256, 200, ["--batch_size", "4"], "recipe_100's samples in batches of 4"),
    "lr005_100": (128, 256, 100, ["--learning_rate", "0.005"],
                  "recipe_100 at learning rate 0.005"),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=None, choices=sorted(VARIANTS),
                        help="variants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--iters", type=int, default=None,
                        help="replace every variant's iteration count")
    parser.add_argument("--work", default=os.path.join(REPO, "output", "bench_learning"),
                        help="folder for the data sets and runs")
    parser.add_argument("--num_workers", type=int, default=1)
    parser.add_argument("--out", default=result_path("bench_learning.json"))
    return parser.parse_args()


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd, log):
    with open(log, "a", encoding="utf-8") as f:
        subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, check=True,
                       env=dict(os.environ, PYTHONWARNINGS="ignore"))


def make_data(work, height, width):
    root = os.path.join(work, "toy_hard_{}x{}".format(height, width))
    if not os.path.isfile(os.path.join(root, "gtFine", "cityscapes_panoptic_val_trainId.json")):
        _run([sys.executable, "tools/make_toy_cityscapes.py", "--out", root, "--style", "hard",
              "--height", str(height), "--width", str(width), "--num-train", str(NUM_TRAIN),
              "--num-val", str(NUM_VAL)], os.path.join(work, "data.log"))
    return root


def run_variant(name, work, iters_override, num_workers):
    height, width, iters, extra, _ = VARIANTS[name]
    iters = iters_override or iters
    root = make_data(work, height, width)
    save_dir = os.path.join(work, name)
    log = os.path.join(work, name + ".log")
    opts = ["train_dataset.dataset_root=" + root, "val_dataset.dataset_root=" + root]
    cpu0, wall0 = _children_cpu(), time.time()
    _run([sys.executable, "tools/train.py", "--config", RECIPE, "--iters", str(iters),
          "--save_interval", str(iters), "--seed", "0", "--num_workers", str(num_workers),
          "--device", "cpu", "--save_dir", save_dir, "--log_iters", "50"] + extra
         + ["--opts"] + opts, log)
    train_cpu, train_wall = _children_cpu() - cpu0, time.time() - wall0
    metrics = os.path.join(save_dir, "val_results.json")
    _run([sys.executable, "tools/val.py", "--config", RECIPE, "--device", "cpu",
          "--model_path", os.path.join(save_dir, "iter_{}".format(iters), "model.pdparams"),
          "--save_json", metrics] + _postprocess_args(extra) + ["--opts"] + opts, log)
    with open(metrics, encoding="utf-8") as f:
        res = json.load(f)
    pan = res["pan_seg"]
    return {"variant": name, "iters": iters, "image_hw": [height, width],
            "extra_args": extra, "PQ": 100 * pan["All"]["pq"],
            "things_PQ": 100 * pan["Things"]["pq"], "stuff_PQ": 100 * pan["Stuff"]["pq"],
            "mIoU": res["sem_seg"]["mIoU"], "train_wall_min": train_wall / 60,
            "train_cpu_min": train_cpu / 60}


def _postprocess_args(extra):
    """The evaluation uses the variant's post-processing arguments, if it sets any."""
    out = []
    for flag in ("--threshold", "--nms_kernel", "--top_k"):
        if flag in extra:
            out += [flag, extra[extra.index(flag) + 1]]
    return out


def main():
    args = parse_args()
    if args.list:
        for name, (h, w, iters, extra, what) in VARIANTS.items():
            print("{:<14} {}x{} {} iters {} - {}".format(name, h, w, iters, " ".join(extra),
                                                         what))
        return
    os.makedirs(args.work, exist_ok=True)
    rows = [run_variant(name, args.work, args.iters, args.num_workers)
            for name in (args.variants or list(VARIANTS))]
    print("{:<14} {:>6} {:>6} {:>9} {:>6} {:>10} {:>9}".format(
        "variant", "iters", "PQ", "things PQ", "mIoU", "CPU min", "wall min"))
    for r in rows:
        print("{:<14} {:>6} {:>6.1f} {:>9.1f} {:>6.1f} {:>10.1f} {:>9.1f}".format(
            r["variant"], r["iters"], r["PQ"], r["things_PQ"], r["mIoU"], r["train_cpu_min"],
            r["train_wall_min"]))
    write_json(args.out, {"benchmark": "learning", "recipe": RECIPE, "cpu_count": os.cpu_count(),
                          "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
                          "results": rows})


if __name__ == "__main__":
    main()
