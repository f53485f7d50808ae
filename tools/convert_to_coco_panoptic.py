"""Write COCO panoptic annotations (a json and one RGB-id PNG per image) from per-image labels.

Form (a): a semantic PNG (category id per pixel) and an instance PNG (instance id per pixel,
unique within the image, 0 = none) per image, paired by their path relative to the folders:

    python tools/convert_to_coco_panoptic.py --categories categories.yaml \
        --semantic_dir raw/semantic/train --instance_dir raw/instance/train \
        --image_dir images/train \
        --out_json annotations/panoptic_train.json --out_dir panoptic/train

Form (b): Cityscapes-style *instanceIds.png (category * 1000 + k for instances, the plain
category id elsewhere):

    python tools/convert_to_coco_panoptic.py --categories categories.yaml \
        --instance_ids_dir gtFine/train --out_json ... --out_dir ...

Rules (see docs/custom_dataset.md): each stuff category present is one segment; each
(thing category, instance id) pair one instance; thing pixels without an instance id one crowd
segment; values that are no category id are void (0 and 255 silently, others reported).
"""
import argparse
import sys

import _package  # noqa: F401  (paddleseg_panoptic, from this checkout if not installed)

from paddleseg_panoptic.datasets.convert import VOID_VALUES, convert, report_text


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Write COCO panoptic annotations (json + RGB-id PNGs) from semantic + "
                    "instance PNGs (form a) or Cityscapes-style *instanceIds.png (form b).")
    parser.add_argument("--categories", required=True,
                        help="YAML or JSON file: a list of {id, name, isthing, color} (or such "
                             "a list under `categories`, e.g. an existing panoptic json)")
    parser.add_argument("--semantic_dir", default=None,
                        help="form (a): folder of semantic PNGs (category id per pixel)")
    parser.add_argument("--instance_dir", default=None,
                        help="form (a): folder of instance PNGs (same relative names; "
                             "instance id per pixel, 0 = none)")
    parser.add_argument("--instance_ids_dir", default=None,
                        help="form (b): folder searched recursively for *instanceIds.png")
    parser.add_argument("--image_dir", default=None,
                        help="the images (same relative name, .png/.jpg/.jpeg); when given, "
                             "each must exist and have its label's size")
    parser.add_argument("--out_json", required=True, help="panoptic json to write")
    parser.add_argument("--out_dir", required=True, help="folder for the panoptic PNGs")
    parser.add_argument("--void", type=int, nargs="*", default=list(VOID_VALUES),
                        metavar="VALUE",
                        help="label values that are void without being reported, unless they "
                             "are category ids (default: %(default)s)")
    args = parser.parse_args(argv)
    if (args.semantic_dir is None) == (args.instance_ids_dir is None):
        parser.error("give --semantic_dir with --instance_dir (form a) or --instance_ids_dir "
                     "(form b)")
    if args.semantic_dir is not None and args.instance_dir is None:
        parser.error("--semantic_dir needs --instance_dir")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        report = convert(args.out_json, args.out_dir, args.categories,
                         semantic_dir=args.semantic_dir, instance_dir=args.instance_dir,
                         instance_ids_dir=args.instance_ids_dir, image_dir=args.image_dir,
                         void_values=args.void)
    except (ValueError, OSError) as e:   # FileNotFoundError is an OSError
        print("convert_to_coco_panoptic.py: error: {}".format(e), file=sys.stderr)
        return 2
    print(report_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
