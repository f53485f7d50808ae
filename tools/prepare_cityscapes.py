"""Prepare a Cityscapes folder for panoptic training: check its layout and run
cityscapesScripts' panoptic conversion (train ids) for the splits present.

Unpack leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip into ROOT first. Writes
ROOT/gtFine/cityscapes_panoptic_{split}_trainId.json and the PNG folder of the same name.

Example:
    python tools/prepare_cityscapes.py --root data/cityscapes
"""
import argparse
import sys
import time

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.datasets.prepare import prepare_cityscapes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="data/cityscapes",
                        help="Cityscapes folder with leftImg8bit/ and gtFine/ "
                             "(default data/cityscapes)")
    parser.add_argument("--splits", nargs="+", default=["train", "val"],
                        choices=["train", "val", "test"],
                        help="splits to convert when present (default: train val)")
    parser.add_argument("--verbose", action="store_true",
                        help="show cityscapesScripts' conversion output")
    args = parser.parse_args(argv)
    start = time.time()
    try:
        written = prepare_cityscapes(args.root, args.splits, quiet=not args.verbose)
    except (FileNotFoundError, RuntimeError) as err:
        sys.exit("error: {}".format(err))
    for path in written:
        print("wrote", path)
    print("done in {:.0f} s".format(time.time() - start))


if __name__ == "__main__":
    main()
