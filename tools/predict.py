"""Predict panoptic, semantic and instance maps for images of any size.

Single process:
    python tools/predict.py --config CFG --model_path model.pdparams --image_path IMAGES
Several processes (images split over them):
    python -m paddle.distributed.launch --nproc_per_node 2 tools/predict.py ...

See docs/prediction.md for the files written under --save_dir.
"""
import argparse
import sys

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.utils import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Predict with a Panoptic-DeepLab model and save pictures, panoptic id PNGs "
                    "and segment JSON files.")
    parser.add_argument("--config", required=True, help="model config (YAML)")
    parser.add_argument("--model_path", required=True,
                        help="trained weights (.pdparams, or a folder holding model.pdparams); "
                             "the config's `pretrained` weights are not loaded")
    parser.add_argument("--image_path", required=True,
                        help="an image, a folder (searched recursively for .jpg .jpeg .png .bmp "
                             ".tif .tiff .webp in any case), or a text file with one image path "
                             "a line (relative to the text file's folder)")
    parser.add_argument("--save_dir", default="./output/result",
                        help="output folder (default: %(default)s)")
    cli.add_common_args(parser)
    return cli.parse_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    import paddle

    from paddleseg_panoptic.core.predict import run_prediction

    from paddleseg_panoptic.cvlibs.builder import ConfigError

    try:
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
