"""Train Panoptic-DeepLab.

One process:      python tools/train.py --config CONFIG [options]
Several devices:  python -m paddle.distributed.launch --gpus 0,1,2,3 tools/train.py --config ...
See docs/training.md.
"""
import argparse
import sys

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.core.train import TrainingError
from paddleseg_panoptic.cvlibs.builder import ConfigError
from paddleseg_panoptic.core.train_launcher import run_training
from paddleseg_panoptic.utils import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train Panoptic-DeepLab (data parallel over "
                                     "all processes started by paddle.distributed.launch).")
    parser.add_argument("--config", required=True, help="YAML config file")
    parser.add_argument("--iters", type=int, default=None,
                        help="total iterations (replaces the config's `iters`)")
    parser.add_argument("--batch_size", type=int, default=None,
                        help="batch size per process (replaces the config's `batch_size`)")
    parser.add_argument("--learning_rate", type=float, default=None,
                        help="initial learning rate (replaces `learning_rate.value`)")
    parser.add_argument("--save_interval", type=int, default=1000,
                        help="iterations between checkpoints (one is also saved at the end)")
    parser.add_argument("--resume_model", default=None,
                        help="checkpoint directory (save_dir/iter_N) to continue from, or "
                        "'auto' for the newest complete checkpoint in --save_dir")
    parser.add_argument("--save_dir", default="./output",
                        help="directory for checkpoints, logs and the run records")
    parser.add_argument("--keep_checkpoint_max", type=int, default=5,
                        help="newest iter_N checkpoints to keep (<= 0 keeps all)")
    parser.add_argument("--num_workers", type=int, default=0,
                        help="data loader worker processes per training process")
    parser.add_argument("--do_eval", action="store_true",
                        help="evaluate at each checkpoint past half of the iterations and keep "
                        "save_dir/best_model by PQ")
    parser.add_argument("--log_iters", type=int, default=10, help="iterations per log line")
    parser.add_argument("--use_vdl", action="store_true",
                        help="write VisualDL scalars to --save_dir")
    parser.add_argument("--seed", type=int, default=None,
                        help="fixes initialisation, data order and augmentation (default: "
                        "the resumed checkpoint's seed, else random; always recorded)")
    cli.add_common_args(parser, during="evaluation",
                        opts_example="train_dataset.dataset_root=data/x")
    return cli.parse_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        run_training(
            args.config, iters=args.iters, batch_size=args.batch_size,
            learning_rate=args.learning_rate, opts=args.opts, save_dir=args.save_dir,
            save_interval=args.save_interval, keep_checkpoint_max=args.keep_checkpoint_max,
            resume_model=args.resume_model, num_workers=args.num_workers,
            do_eval=args.do_eval, log_iters=args.log_iters, use_vdl=args.use_vdl,
            device=args.device, seed=args.seed, **cli.postprocess_kwargs(args))
    except (TrainingError, ConfigError, FileNotFoundError) as e:
        print("train.py: error: {}".format(e), file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
