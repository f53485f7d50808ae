"""Write a small synthetic Cityscapes (exact layout and naming) and its panoptic annotations.

Examples:
    python tools/make_toy_cityscapes.py --out data/toy_cityscapes_hard   # --preset demo
    python tools/make_toy_cityscapes.py --out data/toy_cityscapes --preset toy
    python tools/make_toy_cityscapes.py --out data/mine --style hard --height 256 --width 512
"""
import argparse
import time

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.datasets.toy_cityscapes import PRESETS, STYLES, make_toy_cityscapes


def _preset_help(name):
    p = PRESETS[name]
    return "{}: {} scenes, {} x {} (W x H), {} train / {} val images".format(
        name, p["style"], p["width"], p["height"], p["num_train"], p["num_val"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo",
                        help="the set a quick-start config expects; the flags below replace "
                        "its values. {} (default; configs/quick_start/*_demo.yml); {} "
                        "(configs/quick_start/*_toy.yml)".format(_preset_help("demo"),
                                                                 _preset_help("toy")))
    parser.add_argument("--num-train", type=int, default=None, help="training images")
    parser.add_argument("--num-val", type=int, default=None, help="validation images")
    parser.add_argument("--height", type=int, default=None, help="image height")
    parser.add_argument("--width", type=int, default=None, help="image width")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0); same seed, "
                        "same files")
    parser.add_argument("--style", choices=STYLES, default=None,
                        help="hard: classes not told apart by colour - per-region looks "
                        "shared between classes, per-instance colours, shared textures, "
                        "groups of overlapping things, shadows, lighting; easy: one colour "
                        "per class, outlined instances (the unit tests' scenes)")
    parser.add_argument("--verbose", action="store_true",
                        help="show cityscapesScripts' conversion output")
    args = parser.parse_args(argv)
    chosen = dict(PRESETS[args.preset])
    for key in chosen:
        if getattr(args, key) is not None:
            chosen[key] = getattr(args, key)
    start = time.time()
    written = make_toy_cityscapes(args.out, seed=args.seed, quiet=not args.verbose, **chosen)
    print("Wrote {} ({} scenes, {} x {}) to {} in {:.1f} s; use it with dataset_root: {}".format(
        ", ".join("{} {} images".format(n, s) for s, n in written.items()), chosen["style"],
        chosen["width"], chosen["height"], args.out, time.time() - start, args.out))


if __name__ == "__main__":
    main()
