"""Write a small synthetic non-Cityscapes set in the COCO panoptic format (3 stuff and 3 thing
categories with non-contiguous ids, images of two sizes).

Example:
    python tools/make_toy_coco.py --out data/toy_coco
"""
import argparse
import time

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.datasets.convert import report_text
from paddleseg_panoptic.datasets.toy_coco import make_toy_coco


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--num-train", type=int, default=8, help="training images (8)")
    parser.add_argument("--num-val", type=int, default=4, help="validation images (4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0); same seed, "
                        "same files")
    args = parser.parse_args(argv)
    start = time.time()
    reports = make_toy_coco(args.out, args.num_train, args.num_val, args.seed)
    for split, report in reports.items():
        print("{}: {}".format(split, report_text(report)))
    print("Done in {:.1f} s; use it with dataset_root: {}".format(time.time() - start, args.out))


if __name__ == "__main__":
    main()
