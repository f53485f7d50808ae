"""Plot a training run's curves: python tools/plot_log.py SAVE_DIR [--out curves.png]

Reads SAVE_DIR/metrics.jsonl (written by tools/train.py) and draws the loss terms (log scale),
the learning rate and the evaluation metrics against the iteration in one PNG.
"""
import argparse
import sys

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.utils.curves import plot_curves


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Plot loss, learning rate and evaluation "
                                     "metrics of a training run from SAVE_DIR/metrics.jsonl.")
    parser.add_argument("save_dir", help="the --save_dir of tools/train.py")
    parser.add_argument("--out", default=None,
                        help="PNG to write (default: SAVE_DIR/curves.png)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        path = plot_curves(args.save_dir, args.out)
    except (FileNotFoundError, ValueError) as e:
        print("plot_log.py: error: {}".format(e), file=sys.stderr, flush=True)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
