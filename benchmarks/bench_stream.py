r"""Memory and speed of video prediction: peak RSS of ``predict.py --video`` over a short and
a long video (the long one must not need more memory: frames are read, predicted and written
one at a time), and the time per stage.

Each run is a fresh process that reports its own peak RSS (``ru_maxrss``) at the end. The videos are synthetic (moving blurred noise, MJPG), written to a
temporary folder; the model is the config's, randomly initialised, with per-frame id PNGs and
segments JSON written too (``--outputs panoptic,ids,json``).

Usage:
    python benchmarks/bench_stream.py \
        --config configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml \
        --frames 30 300 --height 128 --width 256
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _results import result_path, write_json  # noqa: E402


def make_video(path, frames, height, width, fps=25.0):
    import cv2
    import numpy as np

    rng = np.random.RandomState(0)
    base = cv2.GaussianBlur(rng.randint(0, 256, (height, width * 2, 3)).astype("uint8"),
                            (0, 0), 3)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for k in range(frames):
        shift = (k * 3) % width
        writer.write(np.ascontiguousarray(base[:, shift:shift + width]))
    writer.release()


def child(args):
    """One prediction run; prints its statistics as JSON on the last line."""
    from paddleseg_panoptic.core.stream import run_stream

    stats = run_stream(args.config, os.path.join(args.tmp, "model.pdparams"),
                       save_dir=os.path.join(args.tmp, "out"), video=args.video,
                       device="cpu", progress=False, outputs=("panoptic", "ids", "json"))
    stats["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(stats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--frames", type=int, nargs="+", default=[30, 300])
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--out", default=result_path("stream.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--video", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        import paddle

        from paddleseg_panoptic.cvlibs.config import Config

        paddle.seed(0)
        paddle.save(Config(args.config).build_model(load_pretrained=False).state_dict(),
                    os.path.join(tmp, "model.pdparams"))
        for frames in args.frames:
            video = os.path.join(tmp, "v{}.avi".format(frames))
            make_video(video, frames, args.height, args.width)
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                                   "--config", args.config, "--video", video, "--tmp", tmp],
                                  capture_output=True, text=True, timeout=3600)
            if proc.returncode != 0:
                sys.exit(proc.stderr[-3000:])
            stats = json.loads(proc.stdout.strip().splitlines()[-1])
            peak_kib = stats.pop("peak_rss_kib")
            runs[frames] = {"peak_rss_mib": round(peak_kib / 1024, 1), "stats": stats}
            per_frame = {k: round(1000 * v / max(1, stats["frames_predicted"]), 1)
                         for k, v in stats["seconds"].items()}
            print("{:>5} frames: peak RSS {:7.1f} MiB, {:.2f} frames/s, ms/frame {}".format(
                frames, peak_kib / 1024, stats["frames_predicted"] / stats["wall_seconds"],
                per_frame))
    first, last = runs[args.frames[0]], runs[args.frames[-1]]
    growth = last["peak_rss_mib"] - first["peak_rss_mib"]
    print("peak RSS growth from {} to {} frames: {:.1f} MiB (target < 50 MB)".format(
        args.frames[0], args.frames[-1], growth))
    write_json(args.out, {"config": args.config, "size": [args.height, args.width],
                          "runs": runs, "growth_mib": round(growth, 1),
                          "machine": platform.platform(), "cpus": os.cpu_count()})


if __name__ == "__main__":
    main()
