"""Writing COCO panoptic annotations (json + RGB-id PNGs) from the label forms users have.

Two inputs, both per image and paired by their path relative to the input folder:

(a) a semantic PNG (category id per pixel) plus an instance PNG (instance id per pixel, unique
    within the image, 0 = no instance), with a categories file;
(b) Cityscapes-style ``*instanceIds.png``: ``category * 1000 + k`` for instances, the plain
    category id for stuff and for thing regions without instances; with a categories file.

Rules, the same for both (form (b) is turned into (a) first):

- a pixel whose category id is not in the categories is void (segment id 0); the values in
  ``void_values`` (default 0 and 255) silently, any other value is counted in the report;
- each stuff category present is one segment;
- each (thing category, instance id > 0) pair is one instance segment;
- the pixels of a thing category without instance id (0) are one crowd segment
  (``iscrowd: 1``), as Cityscapes' converter does with its group regions;
- an image without any segment keeps an annotation with empty ``segments_info`` and is listed
  in the report.

Segments are numbered 1, 2, ... per image (id = R + 256 G + 256^2 B in the PNG).
"""
import glob
import json
import os

import cv2
import numpy as np
import yaml
from scipy import ndimage

from paddleseg_panoptic.datasets.panoptic import IMAGE_SUFFIXES, category_facts
from paddleseg_panoptic.utils.panoptic_ids import id2rgb
from paddleseg_panoptic.utils.visualize import write_png

VOID_VALUES = (0, 255)
INSTANCE_IDS_SUFFIX = "instanceIds.png"


def load_categories(path):
    """Reads a categories file: YAML or JSON, a list of ``{id, name, isthing, color}`` or a
    mapping with such a list under ``categories`` (a COCO panoptic json works too).

    Raises:
        FileNotFoundError: no file. ValueError: unreadable, or bad entries (naming the file).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError("categories file {} does not exist".format(path))
    try:
        with open(path) as f:
            data = json.load(f) if path.lower().endswith(".json") else yaml.safe_load(f)
    except (ValueError, yaml.YAMLError) as err:
        raise ValueError("cannot read categories file {}: {}".format(path, err)) from None
    if isinstance(data, dict):
        data = data.get("categories")
    category_facts(data, path)  # checks: ids present and unique, isthing present
    categories = []
    for c in data:
        entry = {"id": int(c["id"]), "name": str(c.get("name", c["id"])),
                 "isthing": int(bool(c["isthing"]))}
        if c.get("color"):
            entry["color"] = [int(v) for v in c["color"]]
        categories.append(entry)
    return categories


def _read_png(path, what):
    array = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise OSError("cannot read {} PNG {}".format(what, path))
    if array.ndim != 2:
        raise ValueError("{} PNG {} must have one channel, got shape {}".format(
            what, path, array.shape))
    return array.astype(np.int64)


def panoptic_from_labels(semantic, instance, categories, void_values=VOID_VALUES):
    """One image's panoptic ids and segments from its semantic and instance maps.

    Args:
        semantic (np.ndarray): [H, W] category ids.
        instance (np.ndarray): [H, W] instance ids (0 = none), unique within the image.
        categories (list[dict]): ``{id, isthing, ...}``.
        void_values (sequence[int]): semantic values that are void without being reported.

    Returns:
        tuple: ``ids`` [H, W] int64 segment ids (0 void), ``segments`` (list of ``{id,
        category_id, iscrowd, area, bbox}``) and ``unknown`` ({value: pixels} of semantic
        values neither a category nor void).
    """
    isthing = {c["id"]: bool(c["isthing"]) for c in categories}
    ids = np.zeros(semantic.shape, np.int64)
    # One key per pixel: (category, instance) for things, (category, 0) for stuff.
    known = np.isin(semantic, list(isthing))
    thing = np.isin(semantic, [c for c, t in isthing.items() if t])
    key_instance = np.where(thing, instance, 0)
    values, unknown_counts = np.unique(semantic[~known], return_counts=True)
    unknown = {int(v): int(n) for v, n in zip(values, unknown_counts)
               if int(v) not in void_values}
    segments = []
    if known.any():
        pairs, inverse, areas = np.unique(
            np.stack([semantic[known], key_instance[known]], axis=1), axis=0,
            return_inverse=True, return_counts=True)
        ids[known] = inverse.reshape(-1) + 1
        boxes = ndimage.find_objects(ids, max_label=len(pairs))
        for n, ((category, inst), area) in enumerate(zip(pairs.tolist(), areas.tolist())):
            rows, cols = boxes[n]
            segments.append({
                "id": n + 1, "category_id": int(category),
                "iscrowd": int(isthing[category] and inst == 0), "area": int(area),
                "bbox": [cols.start, rows.start, cols.stop - cols.start,
                         rows.stop - rows.start]})
    return ids, segments, unknown


def _pairs_semantic_instance(semantic_dir, instance_dir):
    pairs = []
    for path in sorted(glob.glob(os.path.join(semantic_dir, "**", "*.png"), recursive=True)):
        rel = os.path.relpath(path, semantic_dir)
        other = os.path.join(instance_dir, rel)
        if not os.path.isfile(other):
            raise FileNotFoundError("semantic label {} has no instance label {}".format(
                path, other))
        pairs.append((os.path.splitext(rel)[0], path, other))
    if not pairs:
        raise FileNotFoundError("no semantic PNGs under {}".format(semantic_dir))
    return pairs


def _pairs_instance_ids(instance_ids_dir):
    pattern = os.path.join(instance_ids_dir, "**", "*" + INSTANCE_IDS_SUFFIX)
    paths = sorted(glob.glob(pattern, recursive=True))
    if not paths:
        raise FileNotFoundError("no *{} files under {}".format(INSTANCE_IDS_SUFFIX,
                                                             instance_ids_dir))
    return [(os.path.relpath(p, instance_ids_dir)[:-len(INSTANCE_IDS_SUFFIX)].rstrip("_"), p,
             None) for p in paths]


def _find_image(image_dir, name):
    if image_dir is None:
        return None
    for suffix in IMAGE_SUFFIXES:
        path = os.path.join(image_dir, name + suffix)
        if os.path.isfile(path):
            return path
    return None


def convert(out_json, out_dir, categories, semantic_dir=None, instance_dir=None,
            instance_ids_dir=None, image_dir=None, void_values=VOID_VALUES):
    """Writes a COCO panoptic json and its PNG folder from form (a) or (b).

    Args:
        out_json (str): the json to write. out_dir (str): folder of the panoptic PNGs.
        categories (list[dict] | str): entries or a categories file (:func:`load_categories`).
        semantic_dir, instance_dir (str): form (a), PNGs paired by relative path.
        instance_ids_dir (str): form (b), ``*instanceIds.png`` files (searched recursively).
        image_dir (str | None): the images (same relative name, suffix .png / .jpg / .jpeg);
            when given, each image must exist and have the label's size, and the json's
            ``images`` name it.
        void_values (sequence[int]): category values that are void without being reported.

    Returns:
        dict: the report: ``images``, ``segments``, ``crowd_segments``, ``empty_images``
        (names), ``unknown_values`` ({value: {'pixels', 'images'}}), ``json``.

    Raises:
        ValueError / FileNotFoundError / OSError: bad categories, missing or unreadable files,
            labels of different sizes (naming the files).
    """
    if isinstance(categories, str):
        categories = load_categories(categories)
    else:
        category_facts(categories, "categories")
    if (semantic_dir is None) == (instance_ids_dir is None):
        raise ValueError("give either semantic_dir and instance_dir (form a) or "
                         "instance_ids_dir (form b)")
    if semantic_dir is not None:
        if instance_dir is None:
            raise ValueError("semantic_dir needs instance_dir")
        pairs = _pairs_semantic_instance(semantic_dir, instance_dir)
    else:
        pairs = _pairs_instance_ids(instance_ids_dir)
    report = {"images": 0, "segments": 0, "crowd_segments": 0, "empty_images": [],
              "unknown_values": {}, "json": out_json}
    images, annotations = [], []
    for image_id, (name, first, second) in enumerate(pairs, start=1):
        if second is None:   # form (b): category * 1000 + k, or the plain category
            encoded = _read_png(first, "instanceIds")
            semantic = np.where(encoded >= 1000, encoded // 1000, encoded)
            instance = np.where(encoded >= 1000, encoded, 0)
        else:
            semantic = _read_png(first, "semantic")
            instance = _read_png(second, "instance")
            if semantic.shape != instance.shape:
                raise ValueError("semantic label {} is {}x{} but instance label {} is "
                                 "{}x{}".format(first, *semantic.shape, second,
                                                *instance.shape))
        height, width = semantic.shape
        image_path = _find_image(image_dir, name)
        if image_dir is not None:
            if image_path is None:
                raise FileNotFoundError("no image {}{{{}}} for label {}".format(
                    os.path.join(image_dir, name), ",".join(IMAGE_SUFFIXES), first))
            shape = cv2.imread(image_path, cv2.IMREAD_UNCHANGED).shape[:2]
            if shape != (height, width):
                raise ValueError("image {} is {}x{} but its label {} is {}x{}".format(
                    image_path, shape[0], shape[1], first, height, width))
        ids, segments, unknown = panoptic_from_labels(semantic, instance, categories,
                                                      void_values)
        for value, pixels in unknown.items():
            entry = report["unknown_values"].setdefault(value, {"pixels": 0, "images": []})
            entry["pixels"] += pixels
            entry["images"].append(name)
        if not segments:
            report["empty_images"].append(name)
        report["images"] += 1
        report["segments"] += len(segments)
        report["crowd_segments"] += sum(s["iscrowd"] for s in segments)
        png = os.path.join(out_dir, name + ".png")
        os.makedirs(os.path.dirname(png), exist_ok=True)
        write_png(png, id2rgb(ids))
        images.append({"id": image_id, "height": height, "width": width,
                       "file_name": os.path.relpath(image_path, image_dir) if image_path
                       else name + ".png"})
        annotations.append({"image_id": image_id, "file_name": name + ".png",
                            "segments_info": segments})
    os.makedirs(os.path.dirname(os.path.abspath(out_json)), exist_ok=True)
    with open(out_json, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return report


def report_text(report):
    """The report of :func:`convert` as a few lines for people."""
    lines = ["{images} images, {segments} segments ({crowd_segments} crowd) -> {json}".format(
        **report)]
    if report["empty_images"]:
        lines.append("{} image(s) without any segment: {}".format(
            len(report["empty_images"]), ", ".join(report["empty_images"][:10])))
    for value, entry in sorted(report["unknown_values"].items()):
        lines.append("value {} is no category id: {} pixel(s) in {} image(s) made void "
                     "(e.g. {})".format(value, entry["pixels"], len(entry["images"]),
                                        entry["images"][0]))
    return "\n".join(lines)
