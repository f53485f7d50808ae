"""Preparing a Cityscapes folder for panoptic training: layout checks and the official
panoptic conversion (cityscapesScripts' ``createPanopticImgs`` with train ids).

The conversion writes, next to ``gtFine/{split}/``, the COCO-panoptic annotation
``gtFine/cityscapes_panoptic_{split}_trainId.json`` and the PNG folder
``gtFine/cityscapes_panoptic_{split}_trainId/``, which :class:`CityscapesPanoptic` reads.
"""
import contextlib
import glob
import io
import os

SPLITS = ("train", "val", "test")
PREPARE_COMMAND = "python tools/prepare_cityscapes.py --root {root}"
TOY_COMMAND = "python tools/make_toy_cityscapes.py --out {root} --preset toy|demo"


def panoptic_json_path(root, split):
    """``{root}/gtFine/cityscapes_panoptic_{split}_trainId.json``."""
    return os.path.join(root, "gtFine", "cityscapes_panoptic_{}_trainId.json".format(split))


def panoptic_png_dir(root, split):
    """``{root}/gtFine/cityscapes_panoptic_{split}_trainId``."""
    return os.path.join(root, "gtFine", "cityscapes_panoptic_{}_trainId".format(split))


def how_to_make(root):
    """The commands that make a dataset folder, for error messages."""
    return "Run `{}` for real Cityscapes (after unpacking leftImg8bit_trainvaltest.zip and " \
           "gtFine_trainvaltest.zip there), or `{}` for a small synthetic set.".format(
               PREPARE_COMMAND.format(root=root), TOY_COMMAND.format(root=root))


def how_to_get(root):
    """What to do when the raw Cityscapes files are missing, for error messages."""
    return "Download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from " \
           "https://www.cityscapes-dataset.com and unpack both into {} (or make a small " \
           "synthetic set with `{}`).".format(root, TOY_COMMAND.format(root=root))


def instance_files(root, split):
    """Sorted ``gtFine/{split}/*/*_gtFine_instanceIds.png`` files."""
    return sorted(glob.glob(os.path.join(root, "gtFine", split, "*", "*_instanceIds.png")))


def check_layout(root, splits=("train", "val")):
    """Checks that ``root`` holds Cityscapes in its standard layout for ``splits``.

    Args:
        root (str): dataset folder containing ``leftImg8bit/`` and ``gtFine/``.
        splits (sequence[str]): splits to check.

    Returns:
        list[str]: the splits that have both images and instance annotations.

    Raises:
        FileNotFoundError: naming the missing folder or files, and what to do.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError("Cityscapes folder {} does not exist. {}".format(
            root, how_to_get(root)))
    for sub in ("leftImg8bit", "gtFine"):
        path = os.path.join(root, sub)
        if not os.path.isdir(path):
            raise FileNotFoundError("Missing {}: expected Cityscapes' {}/ folder in {}. {}".format(
                path, sub, root, how_to_get(root)))
    ready = []
    for split in splits:
        annotations = instance_files(root, split)
        images = glob.glob(os.path.join(root, "leftImg8bit", split, "*", "*_leftImg8bit.png"))
        if not annotations and not images:
            continue
        if not annotations:
            raise FileNotFoundError(
                "{} has images but {} has no *_gtFine_instanceIds.png files: unpack "
                "gtFine_trainvaltest.zip into {}.".format(
                    os.path.join(root, "leftImg8bit", split),
                    os.path.join(root, "gtFine", split), root))
        if not images:
            raise FileNotFoundError(
                "{} has annotations but {} has no *_leftImg8bit.png images: unpack "
                "leftImg8bit_trainvaltest.zip into {}.".format(
                    os.path.join(root, "gtFine", split),
                    os.path.join(root, "leftImg8bit", split), root))
        ready.append(split)
    if not ready:
        raise FileNotFoundError("No split among {} has images and annotations in {}. {}".format(
            list(splits), root, how_to_get(root)))
    return ready


def convert_to_panoptic(root, splits, quiet=True):
    """Runs cityscapesScripts' panoptic conversion with train ids for ``splits``.

    Args:
        root (str): dataset folder containing ``gtFine/{split}/*/*_instanceIds.png``.
        splits (sequence[str]): splits to convert; each must have annotations (the upstream
            script exits the process on an empty split, so they are checked first).
        quiet (bool): swallow the converter's progress output.

    Returns:
        list[str]: the json files written.

    Raises:
        FileNotFoundError: a split without ``*_instanceIds.png`` files.
        RuntimeError: the converter failed; its output is included.
    """
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic

    gt_dir = os.path.join(root, "gtFine")
    for split in splits:
        if not instance_files(root, split):
            raise FileNotFoundError("No *_gtFine_instanceIds.png under {}: nothing to convert "
                                    "for split '{}'.".format(os.path.join(gt_dir, split), split))
    log = io.StringIO()
    redirect = contextlib.redirect_stdout(log) if quiet else contextlib.nullcontext()
    try:
        with redirect:
            convert2panoptic(cityscapesPath=gt_dir, outputFolder=gt_dir, useTrainId=True,
                             setNames=list(splits))
    except SystemExit as err:
        raise RuntimeError("cityscapesScripts' panoptic conversion of {} failed:\n{}".format(
            gt_dir, log.getvalue()[-2000:])) from err
    return [panoptic_json_path(root, split) for split in splits]


def prepare_cityscapes(root, splits=("train", "val"), quiet=True):
    """Checks the layout of ``root`` and converts the splits present to panoptic labels.

    Args:
        root (str): Cityscapes folder.
        splits (sequence[str]): splits to consider; those without data are skipped.
        quiet (bool): swallow the converter's progress output.

    Returns:
        list[str]: the json files written.
    """
    ready = check_layout(root, splits)
    return convert_to_panoptic(root, ready, quiet=quiet)
