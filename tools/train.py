"""Train Panoptic-DeepLab.

One process:      python tools/train.py --config CONFIG [options]
Several devices:  python -m paddle.distributed.launch --gpus 0,1,2,3 tools/train.py --config ...
See docs/training.md.
"""
import argparse
import signal
import sys

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.core.train_amp import AMP_LEVELS, PRECISIONS
from paddleseg_panoptic.core.train_guard import (TrainingError, TrainingInterrupted,
                                                  handle_stop_signals)
from paddleseg_panoptic.cvlibs.builder import ConfigError
from paddleseg_panoptic.core.train_launcher import run_training
from paddleseg_panoptic.utils import cli
from paddleseg_panoptic.utils.sample_guard import SampleError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train Panoptic-DeepLab (data parallel over "
                                     "all processes started by paddle.distributed.launch).")
    parser.add_argument("--config", required=True, help="YAML config file")
    parser.add_argument("--iters", type=int, default=None,
                        help="total iterations (replaces the config's `iters`)")
    parser.add_argument("--time_budget", type=float, default=None, metavar="MIN",
                        help="minutes of training: the run times its iterations, trains as many "
                        "of --iters as fit (re-planned every 10 iterations) and ends the "
                        "learning-rate schedule there; the last checkpoint and evaluation "
                        "come after it")
    parser.add_argument("--batch_size", type=int, default=None,
                        help="batch size per process (replaces the config's `batch_size`)")
    parser.add_argument("--learning_rate", type=float, default=None,
                        help="initial learning rate (replaces `learning_rate.value`)")
    parser.add_argument("--save_interval", type=int, default=1000,
                        help="iterations between checkpoints (one is also saved at the end)")
    parser.add_argument("--resume_model", default=None,
                        help="checkpoint directory (save_dir/iter_N, or its model.pdparams) to "
                        "continue from, or 'auto' for the newest checkpoint in --save_dir whose "
                        "files all read back completely")
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
                        help="write VisualDL scalars (with --do_eval also pictures of a few "
                        "validation images) to --save_dir")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="fp16 / bf16: automatic mixed precision (GPU only; fp16 with "
                        "loss scaling) (default: %(default)s)")
    parser.add_argument("--amp_level", choices=AMP_LEVELS, default="O1",
                        help="O1: low-precision operators, float32 weights; O2: low-precision "
                        "weights too (default: %(default)s)")
    parser.add_argument("--use_ema", action="store_true",
                        help="keep an exponential moving average of the weights; it is what "
                        "--do_eval evaluates and best_model/ holds")
    parser.add_argument("--seed", type=int, default=None,
                        help="fixes initialisation, data order and augmentation (default: "
                        "the resumed checkpoint's seed, else random; always recorded)")
    cli.add_common_args(parser, during="evaluation",
                        opts_example="train_dataset.dataset_root=data/x")
    args = cli.parse_args(parser, argv)
    if args.time_budget is not None and not args.time_budget > 0:
        parser.error("--time_budget must be positive, got {}".format(args.time_budget))
    return args


def main(argv=None):
    args = parse_args(argv)
    handle_stop_signals()
    try:
        run_training(
            args.config, iters=args.iters, batch_size=args.batch_size,
            learning_rate=args.learning_rate, opts=args.opts, save_dir=args.save_dir,
            save_interval=args.save_interval, keep_checkpoint_max=args.keep_checkpoint_max,
            resume_model=args.resume_model, num_workers=args.num_workers,
            do_eval=args.do_eval, log_iters=args.log_iters, use_vdl=args.use_vdl,
            device=args.device, seed=args.seed, precision=args.precision,
            amp_level=args.amp_level, use_ema=args.use_ema, time_budget=args.time_budget,
            **cli.postprocess_kwargs(args))
    except (TrainingError, ConfigError, FileNotFoundError, SampleError) as e:
        print("train.py: error: {}".format(e), file=sys.stderr, flush=True)
        return 1
    except TrainingInterrupted as e:
        print("train.py: {}".format(e), file=sys.stderr, flush=True)
        return e.exit_code
    except KeyboardInterrupt as e:  # before the first iteration
        signum = getattr(e, "signum", signal.SIGINT)
        print("train.py: interrupted before training started; nothing was saved",
              file=sys.stderr, flush=True)
        return 128 + signum
    return 0


if __name__ == "__main__":
    sys.exit(main())
