"""How far the CPU quick-start recipe and its variants get on the hard toy set.

Each variant trains the demo's config (``configs/quick_start/*_demo.yml``) from scratch with
``tools/train.py`` (seed 0, CPU; with ``nproc`` 2 under ``paddle.distributed.launch``, the
global batch of 8 shared by the two processes as ``scripts/demo.sh`` does) on the demo's data
(``tools/make_toy_cityscapes.py --preset demo``, made once), evaluates the last checkpoint with
``tools/val.py`` (with the config's post-processing and with the package defaults, threshold
0.1 and NMS window 7) and records PQ, things PQ, stuff PQ, mIoU and the training's wall
minutes.

    python benchmarks/bench_learning.py                       # every variant (~15 min each)
    python benchmarks/bench_learning.py --variants recipe     # the demo's recipe only
    python benchmarks/bench_learning.py --list

Wall time is only meaningful on an otherwise idle machine. Not part of the tests. Prints a
table and writes ``benchmarks/results/bench_learning.json``.
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import result_path, write_json  # noqa: E402

RECIPE = "configs/quick_start/panoptic_deeplab_mobilenetv3_os32_demo.yml"
GLOBAL_BATCH = 8

# name -> (processes, iterations (None: the config's), tools/train.py arguments,
#          --opts overrides, what changes). Every variant changes one thing of the recipe.
VARIANTS = {
    "recipe": (2, None, [], [], "the demo's recipe: 2 processes x batch 4, 1000 iterations"),
    "one_process": (1, 560, [], [], "one process, batch 8: the iterations that fit the same "
                                    "time"),
    "lr004": (2, None, ["--learning_rate", "0.004"], [], "learning rate 0.004"),
    "lr002": (2, None, ["--learning_rate", "0.002"], [], "learning rate 0.002"),
    "center_weight800": (2, None, [], ["loss.coef=[1, 800, 0.05]"], "4x the centre loss weight"),
    "offset_weight02": (2, None, [], ["loss.coef=[1, 200, 0.2]"],
                        "4x the offset loss weight"),
    "sigma8": (2, None, [], ["train_dataset.center_sigma=8"],
               "the reference's 8 px centre Gaussians"),
    "resnet18": (2, 400, [], ["model.backbone={type: ResNet18_vd, output_stride: 32, "
                              "pretrained: null}"],
                 "ResNet18_vd instead of MobileNetV3: the iterations that fit the same time"),
}

# Post-processing settings every variant is evaluated with: the config's, and the defaults.
EVALUATIONS = {"config": [], "defaults": ["--threshold", "0.1", "--nms_kernel", "7"]}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=None, choices=sorted(VARIANTS),
                        help="variants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--work", default=os.path.join(REPO, "output", "bench_learning"),
                        help="folder for the data set and runs")
    parser.add_argument("--out", default=result_path("bench_learning.json"))
    return parser.parse_args()


def _run(cmd, log):
    with open(log, "a", encoding="utf-8") as f:
        subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, check=True,
                       env=dict(os.environ, PYTHONWARNINGS="ignore"))


def make_data(work):
    root = os.path.join(work, "toy_cityscapes_hard")
    if not os.path.isfile(os.path.join(root, "gtFine", "cityscapes_panoptic_val_trainId.json")):
        _run([sys.executable, "tools/make_toy_cityscapes.py", "--out", root, "--preset", "demo"],
             os.path.join(work, "data.log"))
    return root


def _config_iters():
    sys.path.insert(0, REPO)
    import paddleseg_panoptic  # noqa: F401
    from paddleseg_panoptic.cvlibs import Config

    return Config(os.path.join(REPO, RECIPE)).iters


def run_variant(name, work):
    nproc, iters, args, opts, _ = VARIANTS[name]
    iters = iters or _config_iters()
    root = make_data(work)
    save_dir = os.path.join(work, name)
    log = os.path.join(work, name + ".log")
    opts = ["train_dataset.dataset_root=" + root, "val_dataset.dataset_root=" + root] + opts
    launch = [sys.executable]
    if nproc > 1:
        launch += ["-m", "paddle.distributed.launch", "--nproc_per_node", str(nproc),
                   "--log_dir", os.path.join(save_dir, "launch")]
    start = time.time()
    _run(launch + ["tools/train.py", "--config", RECIPE, "--iters", str(iters),
                   "--batch_size", str(GLOBAL_BATCH // nproc), "--save_interval", str(iters),
                   "--seed", "0", "--num_workers", "0", "--device", "cpu",
                   "--save_dir", save_dir, "--log_iters", "50"] + args + ["--opts"] + opts,
         log)
    train_wall = time.time() - start
    row = {"variant": name, "processes": nproc, "iters": iters, "train_args": args,
           "opts": opts[2:], "train_wall_min": train_wall / 60}
    for kind, val_args in EVALUATIONS.items():
        metrics = os.path.join(save_dir, "val_{}.json".format(kind))
        _run([sys.executable, "tools/val.py", "--config", RECIPE, "--device", "cpu",
              "--model_path", os.path.join(save_dir, "iter_{}".format(iters), "model.pdparams"),
              "--save_json", metrics] + val_args + ["--opts"] + opts, log)
        with open(metrics, encoding="utf-8") as f:
            res = json.load(f)
        pan = res["pan_seg"]
        row[kind] = {"PQ": 100 * pan["All"]["pq"], "things_PQ": 100 * pan["Things"]["pq"],
                     "stuff_PQ": 100 * pan["Stuff"]["pq"], "mIoU": res["sem_seg"]["mIoU"]}
    return row


def main():
    args = parse_args()
    if args.list:
        for name, (nproc, iters, targs, opts, what) in VARIANTS.items():
            print("{:<20} {} process(es), {} iters {} {} - {}".format(
                name, nproc, iters or "config's", " ".join(targs), " ".join(opts), what))
        return
    os.makedirs(args.work, exist_ok=True)
    rows = [run_variant(name, args.work) for name in (args.variants or list(VARIANTS))]
    print("PQ / things PQ / stuff PQ with the config's post-processing (defaults 0.1 / 7 after "
          "the bar)")
    print("{:<18} {:>5} {:>6} {:>20} {:>6} {:>12} {:>9}".format(
        "variant", "procs", "iters", "PQ / things / stuff", "mIoU", "| defaults", "wall min"))
    for r in rows:
        c, d = r["config"], r["defaults"]
        print("{:<18} {:>5} {:>6} {:>6.1f} {:>6.1f} {:>6.1f} {:>6.1f} | {:>4.1f} {:>4.1f} "
              "{:>9.1f}".format(r["variant"], r["processes"], r["iters"], c["PQ"],
                                c["things_PQ"], c["stuff_PQ"], c["mIoU"], d["PQ"],
                                d["things_PQ"], r["train_wall_min"]))
    write_json(args.out, {"benchmark": "learning", "recipe": RECIPE, "cpu_count": os.cpu_count(),
                          "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
                          "results": rows})


if __name__ == "__main__":
    main()
