"""Command-line arguments shared by ``tools/train.py``, ``tools/val.py`` and
``tools/predict.py``, so that their defaults, help and checks cannot drift apart.

The post-processing defaults come from ``postprocess/defaults.py`` only.
"""
import os

from paddleseg_panoptic.postprocess.defaults import NMS_KERNEL, THRESHOLD, TOP_K
from paddleseg_panoptic.utils.device import DEVICES
from paddleseg_panoptic.utils.panoptic_ids import DEFAULT_INSTANCE_SCORE, INSTANCE_SCORES

__all__ = ["add_common_args", "add_postprocess_args", "add_device_arg", "add_opts_arg",
           "add_inference_args", "parse_args", "check_postprocess_args", "postprocess_kwargs",
           "inference_kwargs"]


def add_common_args(parser, during=None, opts_example=None):
    """The arguments of every model tool: post-processing, ``--device`` and ``--opts``.

    Args:
        parser (argparse.ArgumentParser)
        during (str | None): see :func:`add_postprocess_args`.
        opts_example (str | None): see :func:`add_opts_arg`.
    """
    add_postprocess_args(parser, during)
    add_device_arg(parser)
    add_opts_arg(parser, opts_example)


def parse_args(parser, argv=None):
    """``parser.parse_args(argv)``, then the checks of :func:`check_postprocess_args`.

    When the tool has ``--config`` and it names a config with a ``postprocess`` section, its
    values are the defaults of ``--threshold``, ``--nms_kernel`` and ``--top_k``. A config
    file that does not exist is left to the tool, which names it when it loads the config.
    """
    known, _ = parser.parse_known_args(argv)
    config = getattr(known, "config", None)
    if config and os.path.isfile(config) and hasattr(known, "threshold"):
        from paddleseg_panoptic.cvlibs.builder import ConfigError
        from paddleseg_panoptic.cvlibs.config import Config

        try:
            settings = Config(config, opts=getattr(known, "opts", None)).postprocess
        except ConfigError as e:
            parser.error(str(e))
        parser.set_defaults(threshold=settings["threshold"], nms_kernel=settings["nms_kernel"],
                            top_k=settings["top_k"] or 0)
    args = parser.parse_args(argv)
    check_postprocess_args(parser, args)
    return args


def add_postprocess_args(parser, during=None):
    """``--threshold``, ``--nms_kernel`` and ``--top_k`` (centre finding).

    Args:
        parser (argparse.ArgumentParser)
        during (str | None): what the values are used for when that is not the tool's main
            job, e.g. ``'evaluation'`` in training; said in the help.
    """
    use = " during {}".format(during) if during else ""
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help="centre heatmap threshold{} (default: %(default)s)".format(use))
    parser.add_argument("--nms_kernel", type=int, default=NMS_KERNEL,
                        help="centre NMS window (odd){} (default: %(default)s)".format(use))
    parser.add_argument("--top_k", type=int, default=TOP_K,
                        help="keep the centres above the top_k-th largest heatmap value{}; "
                             "0 or less: no limit (default: %(default)s)".format(use))


def add_device_arg(parser):
    """``--device auto|cpu|gpu`` (see :func:`paddleseg_panoptic.utils.device.set_device`)."""
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="auto: gpu when Paddle is built with CUDA and sees one, else cpu "
                             "(default: %(default)s)")


def add_opts_arg(parser, example=None):
    """``--opts KEY=VALUE ...`` config overrides; ``example`` (if given) is shown in the help."""
    parser.add_argument("--opts", nargs="+", default=None, metavar="KEY=VALUE",
                        help="config overrides key.sub=value, values read as YAML; the key must "
                             "exist in the config{}".format(
                                 ", e.g. " + example if example else ""))


def add_inference_args(parser, enable_flag):
    """Test-time augmentation (``enable_flag`` e.g. ``--aug_eval``, ``--scales``,
    ``--flip_horizontal``) and ``--instance_score``."""
    key = enable_flag.lstrip("-")
    parser.add_argument(enable_flag, action="store_true",
                        help="test-time augmentation: run the network at every --scales (and "
                             "mirrored with --flip_horizontal) and average; also turned on by "
                             "the config's test_config.{}: true".format(key))
    parser.add_argument("--scales", type=float, nargs="+", default=None, metavar="S",
                        help="with {}: input scales, e.g. 0.75 1.0 1.25 (default: the config's "
                             "test_config.scales, else 1.0)".format(enable_flag))
    parser.add_argument("--flip_horizontal", action="store_true", default=None,
                        help="with {}: also run every scale on the mirrored image (default: "
                             "the config's test_config.flip_horizontal, else off)".format(
                                 enable_flag))
    parser.add_argument("--instance_score", choices=INSTANCE_SCORES,
                        default=DEFAULT_INSTANCE_SCORE,
                        help="instance confidence (for AP and the segments' `score`): semantic = "
                             "mean probability of the class over the instance's pixels; center "
                             "= centre heatmap at the instance's centroid; semantic_x_center = "
                             "their product (default: %(default)s)")


def inference_kwargs(args, enable_flag):
    """The keyword arguments of :func:`add_inference_args` for ``run_evaluation`` /
    ``run_prediction``."""
    key = enable_flag.lstrip("-")
    return {key: getattr(args, key), "scales": args.scales,
            "flip_horizontal": args.flip_horizontal, "instance_score": args.instance_score}


def check_postprocess_args(parser, args):
    """Exit through ``parser.error`` on an even or non-positive ``--nms_kernel``."""
    if args.nms_kernel < 1 or args.nms_kernel % 2 == 0:
        parser.error("--nms_kernel must be a positive odd number, got {}".format(
            args.nms_kernel))
    if getattr(args, "scales", None) is not None and any(not s > 0 for s in args.scales):
        parser.error("--scales must be positive, got {}".format(args.scales))


def postprocess_kwargs(args):
    """``threshold``, ``nms_kernel`` and ``top_k`` for the package (``top_k <= 0`` -> None)."""
    return {"threshold": args.threshold, "nms_kernel": args.nms_kernel,
            "top_k": args.top_k if args.top_k > 0 else None}
