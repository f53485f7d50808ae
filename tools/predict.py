"""Predict panoptic, semantic and instance maps for images of any size.

Single process:
    python tools/predict.py --config CFG --model_path model.pdparams --image_path IMAGES
With a model exported by tools/export.py (onnxruntime or Paddle Inference, see docs/deploy.md):
    python tools/predict.py --model_dir output/export --image_path IMAGES
Several processes (images split over them):
    python -m paddle.distributed.launch --nproc_per_node 2 tools/predict.py ...

See docs/prediction.md for the files written under --save_dir.
"""
import argparse
import os
import sys

import cv2  # noqa: F401  (before paddle: with Paddle 2.6, OpenCV's zlib use crashes otherwise)

try:
    import paddleseg_panoptic  # noqa: F401
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddleseg_panoptic.deploy.backends import BACKENDS  # noqa: E402
from paddleseg_panoptic.utils import cli  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Predict with a Panoptic-DeepLab model and save pictures, panoptic id PNGs "
                    "and segment JSON files.")
    model = parser.add_argument_group(
        "model", "either --config with --model_path (dygraph), or --model_dir (exported)")
    model.add_argument("--config", help="model config (YAML)")
    model.add_argument("--model_path",
                       help="trained weights (.pdparams, or a folder holding model.pdparams); "
                            "the config's `pretrained` weights are not loaded")
    model.add_argument("--model_dir",
                       help="a folder written by tools/export.py; the post-processing defaults "
                            "then come from its deploy.yaml")
    model.add_argument("--backend", choices=("auto",) + BACKENDS, default="auto",
                       help="engine for --model_dir; auto: the fastest that loads, said in the "
                            "log (default: %(default)s)")
    model.add_argument("--threads", type=int, default=None,
                       help="CPU threads of the --model_dir engine (default: the engine's)")
    parser.add_argument("--image_path", required=True,
                        help="an image, a folder (searched recursively for .jpg .jpeg .png .bmp "
                             ".tif .tiff .webp in any case), or a text file with one image path "
                             "a line (relative to the text file's folder)")
    parser.add_argument("--save_dir", default="./output/result",
                        help="output folder (default: %(default)s)")
    cli.add_common_args(parser)
    known, _ = parser.parse_known_args(argv)
    if known.model_dir:
        _defaults_from_export(parser, known.model_dir)
    args = cli.parse_args(parser, argv)
    if args.model_dir and (args.config or args.model_path):
        parser.error("give either --model_dir or --config with --model_path, not both")
    if args.model_dir and args.opts:
        parser.error("--opts changes a config: it does not apply to --model_dir")
    if not args.model_dir and not (args.config and args.model_path):
        parser.error("--config and --model_path are required (or --model_dir)")
    return args


def _defaults_from_export(parser, model_dir):
    """Post-processing defaults from ``model_dir``'s deploy.yaml (errors are reported later)."""
    from paddleseg_panoptic.deploy.info import DeployError, read_deploy_info

    try:
        settings = read_deploy_info(model_dir).postprocess
    except DeployError:
        return
    parser.set_defaults(threshold=settings["threshold"], nms_kernel=settings["nms_kernel"],
                        top_k=0 if settings["top_k"] is None else settings["top_k"])


def main(argv=None):
    args = parse_args(argv)
    import paddle

    from paddleseg_panoptic.core.predict import run_deployed_prediction, run_prediction
    from paddleseg_panoptic.cvlibs.builder import ConfigError

    try:
        if args.model_dir:
            failures = run_deployed_prediction(
                args.model_dir, args.image_path, save_dir=args.save_dir, backend=args.backend,
                device=args.device, threads=args.threads, **cli.postprocess_kwargs(args))
        else:
            failures = run_prediction(
                args.config, args.model_path, args.image_path, save_dir=args.save_dir,
                device=args.device, opts=args.opts, **cli.postprocess_kwargs(args))
    except (ConfigError, FileNotFoundError, ValueError) as e:
        # Bad arguments or files: the message names them; a traceback would only hide it.
        print("predict.py: error: {}".format(e), file=sys.stderr)
        return 2
    if failures:
        if paddle.distributed.get_rank() != 0:
            # Rank 0 holds every process's failures, reports them and exits non-zero; an
            # early non-zero exit here would make the launcher stop rank 0 before it reports.
            return 0
        print("{} image(s) could not be read:\n{}".format(
            len(failures), "\n".join("  {}: {}".format(p, r) for p, r in failures)),
            file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
