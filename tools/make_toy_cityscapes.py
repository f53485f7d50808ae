"""Write a small synthetic Cityscapes (exact layout and naming) and its panoptic annotations.

Examples:
    python tools/make_toy_cityscapes.py --out data/toy_cityscapes_hard
    python tools/make_toy_cityscapes.py --out data/toy_cityscapes --style easy
"""
import argparse
import time

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.datasets.toy_cityscapes import STYLES, make_toy_cityscapes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--num-train", type=int, default=48, help="training images (48)")
    parser.add_argument("--num-val", type=int, default=12, help="validation images (12)")
    parser.add_argument("--height", type=int, default=256, help="image height (256)")
    parser.add_argument("--width", type=int, default=512, help="image width (512)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0); same seed, "
                        "same files")
    parser.add_argument("--style", choices=STYLES, default="hard",
                        help="hard (default): classes not told apart by colour - per-region "
                        "and per-instance colours, shared textures, groups of overlapping "
                        "things, shadows, lighting; easy: one colour per class, outlined "
                        "instances (the unit tests' scenes)")
    parser.add_argument("--verbose", action="store_true",
                        help="show cityscapesScripts' conversion output")
    args = parser.parse_args(argv)
    start = time.time()
    written = make_toy_cityscapes(args.out, args.num_train, args.num_val, args.height,
                                  args.width, args.seed, quiet=not args.verbose,
                                  style=args.style)
    print("Wrote {} to {} in {:.1f} s; use it with dataset_root: {}".format(
        ", ".join("{} {} images".format(n, s) for s, n in written.items()), args.out,
        time.time() - start, args.out))


if __name__ == "__main__":
    main()
