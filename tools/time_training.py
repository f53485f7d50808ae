"""Time the first training iterations of a config on this machine and plan a run.

Trains ``--probe_iters`` iterations (in a temporary folder, deleted afterwards) with the same
config, batch size, data loader workers and device as the real run would use, leaves out the
first iteration (start-up), and prints the measured seconds per iteration and the expected
training time. With ``--time_budget MIN`` the planned iteration count is the most that fits
in MIN minutes (never more than ``--iters``, default the config's ``iters``).

    python tools/time_training.py --config CONFIG --time_budget 15 --iters_file plan.txt

The planned count is printed and, with ``--iters_file``, written there alone (for scripts:
``tools/train.py --iters $(cat plan.txt)``). The estimate holds while the machine's load stays
as it was during the probe. To plan a multi-process run, start the probe the same way:

    python -m paddle.distributed.launch --nproc_per_node 2 tools/time_training.py ...

(every process trains; the first one prints and writes the plan).
"""
import argparse
import sys

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.core.train import TrainingError
from paddleseg_panoptic.core.train_plan import plan_iters, probe_training
from paddleseg_panoptic.cvlibs.builder import ConfigError
from paddleseg_panoptic.cvlibs.config import Config
from paddleseg_panoptic.utils import cli
from paddleseg_panoptic.utils.distributed import get_rank


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="YAML config file")
    parser.add_argument("--iters", type=int, default=None,
                        help="iterations wanted (default: the config's `iters`); with "
                        "--time_budget, the most that will be planned")
    parser.add_argument("--time_budget", type=float, default=None, metavar="MIN",
                        help="minutes of training: plan as many iterations as fit, at most "
                        "--iters")
    parser.add_argument("--batch_size", type=int, default=None,
                        help="batch size per process (replaces the config's `batch_size`)")
    parser.add_argument("--num_workers", type=int, default=0,
                        help="data loader worker processes, as for the real run")
    parser.add_argument("--probe_iters", type=int, default=6,
                        help="iterations to time; the first is left out (default 6)")
    parser.add_argument("--iters_file", default=None,
                        help="also write the planned iteration count to this file")
    cli.add_device_arg(parser)
    cli.add_opts_arg(parser, example="train_dataset.dataset_root=data/x")
    args = parser.parse_args(argv)
    if args.probe_iters < 2:
        parser.error("--probe_iters must be at least 2 (the first one is left out)")
    if args.time_budget is not None and args.time_budget <= 0:
        parser.error("--time_budget must be positive, got {}".format(args.time_budget))
    if args.iters is not None and args.iters <= 0:
        parser.error("--iters must be positive, got {}".format(args.iters))
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        wanted = args.iters or Config(args.config, opts=args.opts).iters
        probe = probe_training(args.config, args.probe_iters, batch_size=args.batch_size,
                               opts=args.opts, num_workers=args.num_workers,
                               device=args.device)
    except (ConfigError, TrainingError, FileNotFoundError, ValueError) as e:
        sys.exit("error: {}".format(e))
    per_iter = probe["seconds_per_iter"]
    iters = plan_iters(per_iter, wanted, args.time_budget)
    if get_rank() != 0:
        return iters
    print("Timed {} iterations: {:.2f} s each (probe: {:.0f} s wall, {:.0f} s CPU of this "
          "process).".format(probe["iterations"], per_iter, probe["wall_s"], probe["cpu_s"]))
    if iters < wanted:
        print("{} iterations would take about {:.1f} min; {:g} min hold {}.".format(
            wanted, wanted * per_iter / 60, args.time_budget, iters))
    print("Planned: {} iterations, expected training time {:.1f} min.".format(
        iters, iters * per_iter / 60))
    if args.iters_file:
        with open(args.iters_file, "w", encoding="utf-8") as f:
            f.write("{}\n".format(iters))
    return iters


if __name__ == "__main__":
    main()
