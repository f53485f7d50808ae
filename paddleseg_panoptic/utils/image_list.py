"""Finding and reading the images to predict: a file, a folder or a text file listing images.

Each image gets an output name ``rel``: its path relative to the input folder, without the
suffix, with '/' separators; prediction writes ``<kind>/<rel>...`` under its output folder.
"""
import dataclasses
import os

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class ImageReadError(IOError):
    """An input file could not be decoded as an image."""


@dataclasses.dataclass(frozen=True)
class ImageItem:
    """One input image: its path and its output name ``rel`` (relative, no suffix, '/')."""
    path: str
    rel: str


def _is_image_name(path):
    return os.path.splitext(path)[1].lower() in IMAGE_SUFFIXES


def _output_name(path, root):
    rel = os.path.relpath(path, root)
    if rel.startswith(os.pardir + os.sep) or rel == os.pardir or os.path.isabs(rel):
        rel = os.path.basename(path)  # listed image outside the list's folder
    return os.path.splitext(rel)[0].replace(os.sep, "/")


def _read_list(list_path):
    try:
        with open(list_path, "r", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise ValueError("--image_path {} is neither an image (suffixes {}) nor a text file "
                         "listing image paths".format(list_path, ", ".join(IMAGE_SUFFIXES))) \
            from None
    base = os.path.dirname(os.path.abspath(list_path))
    paths = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        candidate = os.path.join(base, line)
        if not os.path.exists(candidate) and len(line.split()) > 1:
            # "image label" lines of paddleseg's file lists: the image is the first field.
            candidate = os.path.join(base, line.split()[0])
        paths.append(os.path.normpath(candidate))
    return base, paths


def list_images(image_path, exclude_dir=None):
    """Find the images to predict.

    Args:
        image_path (str): an image file; a folder (searched recursively for files whose suffix,
            in any case, is one of ``IMAGE_SUFFIXES``); or a text file with one image path a
            line (relative paths are relative to the text file's folder; blank lines and lines
            starting with '#' are skipped; of "image label" lines the first field is used).
        exclude_dir (str, optional): a folder not to search (the output folder, so that a
            rerun does not take the previous results for inputs).

    Returns:
        list[ImageItem]: sorted by path for a folder, in file order for a list. ``rel`` is
        relative to the folder (to the list's folder; the file name for a listed image outside
        it, or for a single image).

    Raises:
        FileNotFoundError: ``image_path`` does not exist.
        ValueError: no image found, or two inputs that would write the same output files.
    """
    if not os.path.exists(image_path):
        raise FileNotFoundError("--image_path {} does not exist".format(image_path))
    if os.path.isdir(image_path):
        root, paths = os.path.abspath(image_path), []
        skip = os.path.realpath(exclude_dir) if exclude_dir else None
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs
                             if os.path.realpath(os.path.join(folder, d)) != skip)
            paths.extend(os.path.join(folder, f) for f in sorted(files) if _is_image_name(f))
        paths.sort()
    elif _is_image_name(image_path):
        path = os.path.abspath(image_path)
        root, paths = os.path.dirname(path), [path]
    else:
        root, paths = _read_list(image_path)
    if not paths:
        raise ValueError("No images found in --image_path {} (image suffixes, any case: {})"
                         .format(image_path, ", ".join(IMAGE_SUFFIXES)))
    items, seen = [], {}
    for path in paths:
        rel = _output_name(path, root)
        if rel in seen:
            raise ValueError("{} and {} would write the same output files ({}.*): rename one"
                             .format(seen[rel], path, rel))
        seen[rel] = path
        items.append(ImageItem(path, rel))
    return items


def read_image(path):
    """Read an image file as [H, W, 3] uint8 BGR (grey images are expanded, alpha dropped).

    Raises:
        ImageReadError: missing file, or content that OpenCV cannot decode.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError("cannot read {}: {}".format(path, e)) from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageReadError("cannot decode {} as an image".format(path))
    return image
