"""Evaluate a Panoptic-DeepLab model on the config's validation dataset.

One process:         python tools/val.py --config CFG --model_path model.pdparams
Several processes:   python -m paddle.distributed.launch --nproc_per_node 2 tools/val.py ...
(the images are split over the processes; the numbers equal the single-process ones).
See docs/evaluation.md.
"""
import argparse
import os
import sys

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.utils import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Evaluate PQ/SQ/RQ, mIoU and AP/AP50 on the config's val_dataset.")
    parser.add_argument("--config", required=True, help="model config (YAML)")
    parser.add_argument("--model_path", default=None,
                        help="trained weights (.pdparams, a folder holding model.pdparams, or "
                             "an http(s) URL of a .pdparams, downloaded once to a cache); "
                             "the config's `pretrained` weights are then not loaded (no "
                             "download). Without it the config's initial weights are evaluated")
    parser.add_argument("--num_workers", type=int, default=0,
                        help="data loader worker processes (default: %(default)s)")
    cli.add_common_args(parser, opts_example="val_dataset.dataset_root=data/cityscapes")
    cli.add_inference_args(parser, "--aug_eval")
    parser.add_argument("--save_json", default=None, metavar="FILE",
                        help="write every number (ours, and the official ones with --official) "
                             "to this JSON file")
    parser.add_argument("--official", default=None, metavar="DIR",
                        help="also write the predictions under DIR in the formats of "
                             "cityscapesScripts' evaluators, run them and report their numbers "
                             "beside ours: PQ/SQ/RQ, mIoU and AP/AP50 on Cityscapes, PQ/SQ/RQ "
                             "on any other COCO-panoptic-format dataset")
    args = cli.parse_args(parser, argv)
    if args.num_workers < 0:
        parser.error("--num_workers must be >= 0, got {}".format(args.num_workers))
    if args.model_path is not None and not args.model_path.startswith(("http://", "https://")) \
            and not os.path.exists(args.model_path):
        parser.error("--model_path {} does not exist".format(args.model_path))
    return args


def main(argv=None):
    args = parse_args(argv)
    import paddle

    from paddleseg_panoptic.core.evaluate import run_evaluation
    from paddleseg_panoptic.evaluation.report import official_comparison, write_json
    from paddleseg_panoptic.utils.sample_guard import SampleError

    try:
        results = run_evaluation(
            args.config, args.model_path, num_workers=args.num_workers, device=args.device,
            opts=args.opts, official_dir=args.official, **cli.postprocess_kwargs(args),
            **cli.inference_kwargs(args, "--aug_eval"))
    except (ValueError, FileNotFoundError, SampleError) as e:  # bad config, weights or data
        print("val.py: error: {}".format(e), file=sys.stderr)
        return 2
    if paddle.distributed.get_rank() != 0:
        return 0
    if "official" in results:
        print(official_comparison(results))
    if args.save_json:
        os.makedirs(os.path.dirname(os.path.abspath(args.save_json)), exist_ok=True)
        write_json(results, args.save_json)
        print("Results written to {}".format(args.save_json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
