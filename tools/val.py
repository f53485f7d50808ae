"""Evaluate a Panoptic-DeepLab model on the config's validation dataset.

One process:         python tools/val.py --config CFG --model_path model.pdparams
Several processes:   python -m paddle.distributed.launch --nproc_per_node 2 tools/val.py ...
(the images are split over the processes; the numbers equal the single-process ones).
See docs/evaluation.md.
"""
import argparse
import os
import sys

try:
    import paddleseg_panoptic  # noqa: F401
except ImportError:  # running from a source checkout without the package installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import paddleseg_panoptic  # noqa: F401

from paddleseg_panoptic.utils import cli  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Evaluate PQ/SQ/RQ, mIoU and AP/AP50 on the config's val_dataset.")
    parser.add_argument("--config", required=True, help="model config (YAML)")
    parser.add_argument("--model_path", default=None,
                        help="trained weights (.pdparams, or a folder holding model.pdparams); "
                             "the config's `pretrained` weights are then not loaded (no "
                             "download). Without it the config's initial weights are evaluated")
    parser.add_argument("--num_workers", type=int, default=0,
                        help="data loader worker processes (default: %(default)s)")
    cli.add_common_args(parser, opts_example="val_dataset.dataset_root=data/cityscapes")
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
    if args.model_path is not None and not os.path.exists(args.model_path):
        parser.error("--model_path {} does not exist".format(args.model_path))
    return args


def main(argv=None):
    args = parse_args(argv)
    import paddle

    from paddleseg_panoptic.core.evaluate import run_evaluation
    from paddleseg_panoptic.evaluation.report import official_comparison, write_json

    try:
        results = run_evaluation(
            args.config, args.model_path, num_workers=args.num_workers, device=args.device,
            opts=args.opts, official_dir=args.official, **cli.postprocess_kwargs(args))
    except (ValueError, FileNotFoundError) as e:   # bad config, weights, dataset or labels
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
