"""Predict panoptic, semantic and instance maps for images of any size.

Single process:
    python tools/predict.py --config CFG --model_path model.pdparams --image_path IMAGES
Several processes (images split over them):
    python -m paddle.distributed.launch --nproc_per_node 2 tools/predict.py ...
A video or a camera, frame by frame:
    python tools/predict.py --config CFG --model_path model.pdparams --video clip.mp4

See docs/prediction.md for the files written under --save_dir.
"""
import argparse
import sys

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.core.predict import OUTPUT_KINDS, check_outputs
from paddleseg_panoptic.utils import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Predict with a Panoptic-DeepLab model and save pictures, panoptic id PNGs "
                    "and segment JSON files.")
    parser.add_argument("--config", required=True, help="model config (YAML)")
    parser.add_argument("--model_path", required=True,
                        help="trained weights (.pdparams, a folder holding model.pdparams, or "
                             "an http(s) URL of a .pdparams, downloaded once to a cache); the "
                             "config's `pretrained` weights are not loaded")
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--image_path",
                        help="an image, a folder (searched recursively for .jpg .jpeg .png .bmp "
                             ".tif .tiff .webp in any case), or a text file with one image path "
                             "a line (relative to the text file's folder)")
    inputs.add_argument("--video", metavar="PATH",
                        help="a video file (any format OpenCV reads), predicted frame by frame "
                             "into SAVE_DIR/<name>.mp4")
    inputs.add_argument("--camera", type=int, metavar="INDEX",
                        help="a camera (0: the first), predicted until it stops or Ctrl-C, "
                             "into SAVE_DIR/camera<INDEX>.mp4")
    parser.add_argument("--save_dir", default="./output/result",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--outputs", default=None, metavar="KINDS",
                        help="comma-separated kinds to write, of {}. Images: default all; "
                             "--video / --camera: default panoptic (the annotated video), the "
                             "other kinds are written per predicted frame".format(
                                 ",".join(OUTPUT_KINDS)))
    parser.add_argument("--frame_stride", type=int, default=1, metavar="N",
                        help="--video / --camera: predict one frame in N; the video is written "
                             "at the input frame rate / N (default: %(default)s)")
    parser.add_argument("--max_frames", type=int, default=None, metavar="N",
                        help="--video / --camera: stop after reading N frames")
    cli.add_common_args(parser)
    cli.add_inference_args(parser, "--aug_pred")
    args = cli.parse_args(parser, argv)
    if args.frame_stride < 1:
        parser.error("--frame_stride must be >= 1, got {}".format(args.frame_stride))
    if args.max_frames is not None and args.max_frames < 1:
        parser.error("--max_frames must be >= 1, got {}".format(args.max_frames))
    if args.outputs is not None:
        try:
            args.outputs = check_outputs(args.outputs)
        except ValueError as e:
            parser.error("--outputs: {}".format(e))
    return args


def main(argv=None):
    args = parse_args(argv)
    import paddle

    from paddleseg_panoptic.core.predict import run_prediction
    from paddleseg_panoptic.core.stream import run_stream

    from paddleseg_panoptic.cvlibs.builder import ConfigError

    common = dict(save_dir=args.save_dir, device=args.device, opts=args.opts,
                  **cli.postprocess_kwargs(args), **cli.inference_kwargs(args, "--aug_pred"))
    try:
        if args.image_path is None:
            stats = run_stream(args.config, args.model_path, video=args.video,
                               camera=args.camera, outputs=args.outputs or ("panoptic",),
                               frame_stride=args.frame_stride, max_frames=args.max_frames,
                               **common)
            # Ctrl-C is how a camera stream ends; a video stopped early is an interruption.
            return 130 if stats["interrupted"] and args.video is not None else 0
        failures = run_prediction(args.config, args.model_path, args.image_path,
                                  outputs=args.outputs or OUTPUT_KINDS, **common)
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
