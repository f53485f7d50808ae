"""Export a trained model for deployment: Paddle inference model, deploy.yaml, optionally ONNX.

    python tools/export.py --config CFG --model_path model.pdparams --save_dir output/export
    python tools/export.py ... --onnx          # also model.onnx (pip install -e ".[deploy]")

Then predict without the config: python tools/predict.py --model_dir output/export ...
See docs/deploy.md.
"""
import argparse
import sys

import cv2  # noqa: F401  (before paddle: with Paddle 2.6, OpenCV's zlib use crashes otherwise)
import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.utils import cli


def parse_args(argv=None):
    from paddleseg_panoptic.deploy.export import DEFAULT_OPSET

    parser = argparse.ArgumentParser(
        description="Export a Panoptic-DeepLab model to a Paddle inference model plus "
                    "deploy.yaml (and model.onnx with --onnx) in --save_dir.")
    parser.add_argument("--config", required=True, help="model config (YAML)")
    parser.add_argument("--model_path", required=True,
                        help="trained weights (.pdparams, a folder holding model.pdparams, or an "
                             "http(s) URL downloaded once to the cache); they must fit the "
                             "config's model exactly")
    parser.add_argument("--save_dir", default="./output/export",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--input_shape", nargs=4, type=int, default=[-1, 3, -1, -1],
                        metavar=("N", "C", "H", "W"),
                        help="input shape of the exported model, -1 for a size given at run "
                             "time (default: %(default)s: any batch, height and width)")
    parser.add_argument("--onnx", action="store_true",
                        help="also write model.onnx (needs paddle2onnx: the deploy extra)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help="lowest ONNX opset with --onnx, raised where an operator needs a "
                             "newer one (default: %(default)s)")
    cli.add_postprocess_args(parser, during="prediction with the exported model (recorded "
                                            "in deploy.yaml)")
    cli.add_opts_arg(parser)
    return cli.parse_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    from paddleseg_panoptic.cvlibs.builder import ConfigError
    from paddleseg_panoptic.deploy.export import export_model

    try:
        export_model(args.config, args.model_path, args.save_dir, input_shape=args.input_shape,
                     onnx=args.onnx, opset=args.opset, opts=args.opts,
                     **cli.postprocess_kwargs(args))
    except (ConfigError, FileNotFoundError, ValueError) as e:
        # DeployError is a ValueError. The message names the bad file / key; no traceback.
        print("export.py: error: {}".format(e), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
