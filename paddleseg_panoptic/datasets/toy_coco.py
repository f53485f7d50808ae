"""A small synthetic non-Cityscapes set in the COCO panoptic format.

It shows (and the tests check) that nothing depends on Cityscapes: 3 stuff and 3 thing
categories with non-contiguous ids, images of two sizes, JPEG images, crowd regions and void.
:func:`make_toy_coco` draws simple scenes, writes them in the form users often have (a
semantic PNG and an instance PNG per image, plus a categories YAML) and converts them with
:func:`paddleseg_panoptic.datasets.convert.convert`, as ``tools/convert_to_coco_panoptic.py``
does::

    {out}/categories.yaml
    {out}/images/{split}/{split}_{i:04d}.jpg
    {out}/raw/{semantic,instance}/{split}/{split}_{i:04d}.png     (converter input)
    {out}/annotations/panoptic_{split}.json
    {out}/panoptic/{split}/{split}_{i:04d}.png

Scenes: sky above grass above water (bands with random edges); balls (discs), boxes
(rectangles) and kites (triangles), nearer ones painted over farther ones; sometimes a crowd
(a group of small balls without instance ids) and a void patch. Output is a pure function of
the arguments (one random generator per image).
"""
import os

import cv2
import numpy as np
import yaml

from paddleseg_panoptic.datasets.convert import convert

CATEGORIES = (
    {"id": 3, "name": "sky", "isthing": 0, "color": [110, 170, 240]},
    {"id": 7, "name": "grass", "isthing": 0, "color": [60, 160, 60]},
    {"id": 12, "name": "water", "isthing": 0, "color": [30, 60, 150]},
    {"id": 21, "name": "ball", "isthing": 1, "color": [230, 60, 40]},
    {"id": 34, "name": "box", "isthing": 1, "color": [240, 200, 40]},
    {"id": 40, "name": "kite", "isthing": 1, "color": [200, 60, 220]},
)
# (height, width) of the images, used in turn.
SIZES = ((96, 160), (128, 128))
VOID = 0
JSON_PATH = "annotations/panoptic_{split}.json"
IMAGE_DIR = "images/{split}"
LABEL_DIR = "panoptic/{split}"


def _thing_mask(shape, kind, cy, cx, size):
    mask = np.zeros(shape, np.uint8)
    if kind == "ball":
        cv2.circle(mask, (cx, cy), size // 2, 1, -1)
    elif kind == "box":
        cv2.rectangle(mask, (cx - size // 2, cy - size // 3), (cx + size // 2, cy + size // 3),
                      1, -1)
    else:  # kite
        points = np.array([[cx, cy - size // 2], [cx + size // 2, cy], [cx, cy + size // 2],
                           [cx - size // 3, cy]], np.int32)
        cv2.fillPoly(mask, [points], 1)
    return mask.astype(bool)


def make_scene(rng, height, width):
    """Draws one scene.

    Returns:
        tuple: ``semantic`` [H, W] uint8 category ids (0 void) and ``instance`` [H, W] uint16
        instance ids (unique in the image, 0 none).
    """
    ids = {c["name"]: c["id"] for c in CATEGORIES}
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    semantic = np.full((height, width), ids["sky"], np.uint8)
    instance = np.zeros((height, width), np.uint16)
    grass_top = int(height * rng.uniform(0.3, 0.45)) + (
        3 * np.sin(cols / rng.uniform(6, 12))).astype(int)
    water_top = int(height * rng.uniform(0.65, 0.8))
    semantic[rows >= grass_top] = ids["grass"]
    semantic[np.broadcast_to(rows >= water_top, semantic.shape)] = ids["water"]
    things = []
    for _ in range(int(rng.integers(2, 6))):
        kind = ("ball", "box", "kite")[int(rng.integers(0, 3))]
        size = int(rng.integers(min(height, width) // 6, min(height, width) // 3))
        cy = int(rng.integers(size // 2, height - size // 4))
        cx = int(rng.integers(-size // 4, width + size // 4))   # some cut by the border
        things.append((cy, kind, cx, size))
    things.sort()   # lower in the picture is nearer: painted later
    for n, (cy, kind, cx, size) in enumerate(things, start=1):
        mask = _thing_mask((height, width), kind, cy, cx, size)
        semantic[mask] = ids[kind]
        instance[mask] = n
    if rng.random() < 0.5:   # a crowd: balls too close to tell apart, no instance ids
        cy = int(rng.integers(height // 2, height - 8))
        cx = int(rng.integers(8, width - 8))
        mask = np.zeros((height, width), bool)
        for m in range(4):
            mask |= _thing_mask((height, width), "ball", cy + (m % 2) * 4, cx + m * 5, 9)
        semantic[mask] = ids["ball"]
        instance[mask] = 0
    if rng.random() < 0.75:   # void: an unlabeled patch
        y, x = int(rng.integers(0, height - 8)), int(rng.integers(0, width - 8))
        semantic[y:y + 8, x:x + 8] = VOID
        instance[y:y + 8, x:x + 8] = 0
    return semantic, instance


def render_image(rng, semantic, instance):
    """Category colour, a per-instance shade, dark outlines and noise: [H, W, 3] uint8 RGB."""
    colours = np.zeros((256, 3), np.float32)
    for c in CATEGORIES:
        colours[c["id"]] = c["color"]
    image = colours[semantic]
    for k in np.unique(instance[instance > 0]):
        image[instance == k] *= rng.uniform(0.7, 1.15)
    key = semantic.astype(np.int64) * 65536 + instance
    edge = np.zeros(key.shape, bool)
    edge[:, 1:] |= key[:, 1:] != key[:, :-1]
    edge[1:, :] |= key[1:, :] != key[:-1, :]
    image[edge] *= 0.4
    image += rng.normal(0.0, 5.0, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, array):
        raise OSError("could not write {}".format(path))


def make_toy_coco(out, num_train=8, num_val=4, seed=0):
    """Writes the toy set (see the module docstring).

    Args:
        out (str): output folder (created; files of the same names are replaced).
        num_train (int), num_val (int): images per split (a split with 0 is not written).
        seed (int): the output is a pure function of all arguments.

    Returns:
        dict: ``{split: converter report}`` for the splits written.
    """
    counts = {"train": int(num_train), "val": int(num_val)}
    if any(n < 0 for n in counts.values()) or not any(counts.values()):
        raise ValueError("need a non-negative number of images and at least one in total, "
                         "got {}".format(counts))
    categories_file = os.path.join(out, "categories.yaml")
    os.makedirs(out, exist_ok=True)
    with open(categories_file, "w") as f:
        yaml.safe_dump({"categories": [dict(c) for c in CATEGORIES]}, f, sort_keys=False)
    reports = {}
    for split_no, (split, count) in enumerate(counts.items()):
        if count == 0:
            continue
        for i in range(count):
            name = "{}_{:04d}".format(split, i)
            rng = np.random.default_rng([seed, split_no, i])
            height, width = SIZES[i % len(SIZES)]
            semantic, instance = make_scene(rng, height, width)
            image = render_image(rng, semantic, instance)
            _write(os.path.join(out, IMAGE_DIR.format(split=split), name + ".jpg"),
                   cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            _write(os.path.join(out, "raw", "semantic", split, name + ".png"), semantic)
            _write(os.path.join(out, "raw", "instance", split, name + ".png"), instance)
        reports[split] = convert(
            os.path.join(out, JSON_PATH.format(split=split)),
            os.path.join(out, LABEL_DIR.format(split=split)), categories_file,
            semantic_dir=os.path.join(out, "raw", "semantic", split),
            instance_dir=os.path.join(out, "raw", "instance", split),
            image_dir=os.path.join(out, IMAGE_DIR.format(split=split)))
    return reports
