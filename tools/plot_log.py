"""Plot a training run's curves: python tools/plot_log.py SAVE_DIR [--out curves.png]

Reads SAVE_DIR/metrics.jsonl (written by tools/train.py) and draws the loss terms (log scale),
the learning rate and the evaluation metrics against the iteration in one PNG.
"""
import argparse
import os
import sys

try:
    import paddleseg_panoptic  # noqa: F401
except ImportError:  # running from a source checkout without installing the package
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
    import paddleseg_panoptic  # noqa: F401

from paddleseg_panoptic.utils.curves import plot_curves  # noqa: E402


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
