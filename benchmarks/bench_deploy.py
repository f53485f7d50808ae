r"""Latency of the exported model on each backend against the dygraph forward, and end to end.

Random weights (seed 0) for ``--config``; the model is exported with ``tools/export.py --onnx``
in its own process, then every measurement runs in a fresh process (its peak RSS is its own):

- network: batch 1, each ``--sizes`` HxW, ``--threads`` CPU threads: the dygraph forward and
  each backend (median latency over ``--repeats`` after ``--warmup``, peak RSS, max |diff|
  against the dygraph outputs);
- end to end: ``--images`` Cityscapes-sized images (1024x2048, padded to 1025x2049) through
  read -> preprocess -> network -> post-process -> write, dygraph vs ``backend='auto'``
  (median seconds per image).

Wall-clock and CPU seconds (all threads of the process) are both recorded: on a shared machine
the wall clock also counts the wait for a core.

Usage:
    python benchmarks/bench_deploy.py                       # reference R50 config
    python benchmarks/bench_deploy.py --config configs/panoptic_deeplab/\
panoptic_deeplab_mobilenetv3_large_os32_cityscapes_1025x513_bs8_90k_lr00005.yml

Prints a JSON report and writes it to benchmarks/results/deploy_<config name>.json.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

REFERENCE = os.path.join(REPO, "configs", "panoptic_deeplab",
                         "panoptic_deeplab_resnet50_os32_cityscapes_1025x513_bs8_90k_lr00005.yml")
NO_PRETRAINED = ["model.backbone.pretrained=null"]


def _peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _timed(fn, warmup, repeats):
    """Median wall-clock and CPU seconds (all threads of this process) of ``fn()``.

    On a shared machine the wall clock also counts waiting for a core; the CPU time does not.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return round(statistics.median(wall), 3), round(statistics.median(cpu), 3)


# ---------------------------------------------------------------------------- workers
def _dygraph_model(config, weights):
    from paddleseg_panoptic.cvlibs.config import Config
    from paddleseg_panoptic.utils.weights import load_weights

    model = Config(config, opts=NO_PRETRAINED).build_model(load_pretrained=False)
    load_weights(model, weights, log=False, strict=True)
    model.eval()
    return model


def worker_network(args):
    """One engine, one size: latency, peak RSS and max |diff| against the dygraph outputs."""
    import cv2  # noqa: F401  (before paddle)
    import numpy as np
    import paddle

    height, width = (int(v) for v in args.size.split("x"))
    x = np.random.RandomState(0).uniform(-1, 1, (1, 3, height, width)).astype("float32")
    reference = os.path.join(args.work, "dygraph_{}.npz".format(args.size))
    if args.engine == "dygraph":
        paddle.set_device("cpu")
        model = _dygraph_model(args.config, args.weights)

        def run():
            with paddle.no_grad():
                return [o.numpy() for o in model(paddle.to_tensor(x))]
    else:
        from paddleseg_panoptic.deploy import Predictor
        predictor = Predictor(args.model_dir, backend=args.engine, threads=args.threads)

        def run():
            return predictor.run(x)
    wall, cpu = _timed(run, args.warmup, args.repeats)
    outputs = run()
    report = {"engine": args.engine, "size": args.size, "median_s": wall, "median_cpu_s": cpu,
              "peak_rss_mb": _peak_rss_mb()}
    if args.engine == "dygraph":
        np.savez(reference, *outputs)
    else:
        ref = np.load(reference)
        report["max_abs_diff"] = max(float(np.abs(o - ref["arr_{}".format(i)]).max())
                                     for i, o in enumerate(outputs))
        report["max_abs_ref"] = max(float(np.abs(ref[k]).max()) for k in ref.files)
    print(json.dumps(report))


def worker_end_to_end(args):
    """Read -> preprocess -> network -> post-process -> write, per image."""
    import cv2  # noqa: F401  (before paddle)
    import paddle

    from paddleseg_panoptic.core import predict as P
    from paddleseg_panoptic.cvlibs.config import Config
    from paddleseg_panoptic.datasets.facts import DatasetFacts

    items = P.list_images(os.path.join(args.work, "images"))
    if args.engine == "dygraph":
        paddle.set_device("cpu")
        cfg = Config(args.config, opts=NO_PRETRAINED)
        model = _dygraph_model(args.config, args.weights)
        transforms = P.prediction_transforms(cfg.val_transforms)
        facts = DatasetFacts.from_config(cfg)
        settings, backend = {}, "dygraph"
    else:
        from paddleseg_panoptic.deploy import Predictor
        model = Predictor(args.model_dir, backend="auto", threads=args.threads)
        transforms, facts, settings = model.transforms, model.facts, model.postprocess
        backend = model.backend
    out = os.path.join(args.work, "e2e_" + args.engine)
    pending = iter(items)

    def one_image():
        P.predict(model, [next(pending)], out, transforms, facts, progress=False, **settings)

    wall, cpu = _timed(one_image, 1, len(items) - 1)
    print(json.dumps({"engine": args.engine, "backend": backend, "median_s_per_image": wall,
                      "median_cpu_s_per_image": cpu, "images": len(items) - 1,
                      "peak_rss_mb": _peak_rss_mb()}))


# ---------------------------------------------------------------------------- driver
def _run(command, env):
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError("{} failed ({}):\n{}".format(" ".join(command), run.returncode,
                                                       run.stderr[-3000:]))
    return run.stdout


def _worker(args, env, mode, **extra):
    command = [sys.executable, os.path.abspath(__file__), "--worker", mode,
               "--config", args.config, "--threads", str(args.threads),
               "--warmup", str(args.warmup), "--repeats", str(args.repeats),
               "--work", args.work, "--weights", args.weights, "--model_dir", args.model_dir]
    for key, value in extra.items():
        command += ["--" + key, str(value)]
    line = _run(command, env).strip().splitlines()[-1]
    result = json.loads(line)
    print(line, flush=True)
    return result


def _ratio(slow, fast, keys):
    """``slow / fast`` for each of ``keys`` (wall clock, CPU time)."""
    return {key: round(slow[key] / fast[key], 2) for key in keys}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=REFERENCE)
    parser.add_argument("--sizes", nargs="+", default=["513x1025", "1025x2049"],
                        help="network input sizes HxW (default: %(default)s)")
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "paddle"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=3,
                        help="end-to-end images of 1024x2048, the first a warm-up (default: "
                             "%(default)s)")
    parser.add_argument("--out", default=None)
    # internal: one measurement in this process
    parser.add_argument("--worker", choices=["network", "end_to_end"], help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--model_dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "network":
        return worker_network(args)
    if args.worker == "end_to_end":
        return worker_end_to_end(args)

    from _results import result_path, write_json

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads),
               PYTHONPATH=os.pathsep.join([REPO] + [p for p in [os.environ.get("PYTHONPATH")]
                                                    if p]))
    name = os.path.splitext(os.path.basename(args.config))[0]
    with tempfile.TemporaryDirectory() as work:
        args.work = work
        args.weights = os.path.join(work, "model.pdparams")
        args.model_dir = os.path.join(work, "export")
        _run([sys.executable, "-c", (
            "import cv2, paddle, sys\n"
            "import paddleseg_panoptic\n"
            "from paddleseg_panoptic.cvlibs.config import Config\n"
            "paddle.seed(0)\n"
            "model = Config(sys.argv[1], opts=sys.argv[3:]).build_model(load_pretrained=False)\n"
            "paddle.save(model.state_dict(), sys.argv[2])\n"), args.config, args.weights]
             + NO_PRETRAINED, env)
        start = time.perf_counter()
        _run([sys.executable, os.path.join(REPO, "tools", "export.py"), "--config", args.config,
              "--model_path", args.weights, "--save_dir", args.model_dir, "--onnx",
              "--opts"] + NO_PRETRAINED, env)
        export_s = round(time.perf_counter() - start, 1)
        network = []
        for size in args.sizes:
            for engine in ["dygraph"] + args.backends:
                network.append(_worker(args, env, "network", engine=engine, size=size))
        _run([sys.executable, "-c", (
            "import cv2, numpy as np, os, sys\n"
            "rng = np.random.RandomState(0)\n"
            "os.makedirs(sys.argv[1])\n"
            "for i in range(int(sys.argv[2])):\n"
            "    img = cv2.GaussianBlur(rng.randint(0, 256, (1024, 2048, 3)).astype('uint8'),"
            " (0, 0), 5)\n"
            "    cv2.imwrite(os.path.join(sys.argv[1], '{}.png'.format(i)), img)\n"),
              os.path.join(work, "images"), str(args.images)], env)
        e2e = [_worker(args, env, "end_to_end", engine=engine) for engine in ("dygraph", "auto")]
    report = {
        "benchmark": "deploy", "config": os.path.relpath(args.config, REPO),
        "threads": args.threads, "repeats": args.repeats, "export_s": export_s,
        "network": network, "end_to_end": e2e,
        "speedup_network": {
            size: {r["engine"]: _ratio([d for d in network if d["size"] == size][0], r,
                                       ("median_s", "median_cpu_s"))
                   for r in network if r["size"] == size and r["engine"] != "dygraph"}
            for size in args.sizes},
        "speedup_end_to_end": _ratio(e2e[0], e2e[1], ("median_s_per_image",
                                                      "median_cpu_s_per_image")),
        "machine": platform.platform(), "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(report, indent=2))
    write_json(args.out or result_path("deploy_{}.json".format(name)), report)


if __name__ == "__main__":
    main()
