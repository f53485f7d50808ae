"""A small synthetic Cityscapes: street-like scenes in the exact Cityscapes layout.

Nothing can be downloaded in tests and demos, and new users want to see the pipeline run before
fetching 11 GB. :func:`make_toy_cityscapes` writes, for each split,

    leftImg8bit/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png
    gtFine/{split}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_{labelIds,instanceIds,
                                                                labelTrainIds,color}.png

with the label definitions of ``cityscapesscripts.helpers.labels`` (instance ids are
``labelId * 1000 + k``; stuff and crowd "group" regions carry the plain label id), and then runs
cityscapesScripts' own panoptic conversion, as real users do, which writes
``gtFine/cityscapes_panoptic_{split}_trainId.json`` and its PNG folder.

Scenes: sky, buildings, vegetation, road and sidewalk bands; poles, signs, lights, fences and
terrain; several instances of several thing classes, nearer ones occluding farther ones, some
cut by the image border; crowd groups; void (ego vehicle, static and dynamic objects). Every
class has its own colour and texture in the image and instances get dark outlines, so a tiny
model can learn them. Output is a pure function of the arguments (one RNG per image).
"""
import os

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import labels, name2label

from paddleseg_panoptic.datasets.prepare import convert_to_panoptic

CITIES = {"train": ("aachen", "bremen"), "val": ("frankfurt",), "test": ("berlin",)}

# Image colour (RGB) and texture (period in px, angle in degrees) per label name: well-separated
# colours so that a few hundred iterations of a tiny model can tell the classes apart.
APPEARANCE = {
    "road": ((90, 90, 100), (24, 0)), "sidewalk": ((200, 160, 190), (10, 90)),
    "building": ((150, 110, 80), (14, 0)), "wall": ((190, 190, 150), (20, 45)),
    "fence": ((120, 170, 120), (6, 90)), "pole": ((240, 240, 240), (4, 0)),
    "traffic light": ((250, 170, 30), (8, 45)), "traffic sign": ((230, 230, 0), (8, 135)),
    "vegetation": ((40, 150, 40), (5, 30)), "terrain": ((170, 220, 100), (12, 60)),
    "sky": ((120, 180, 240), (64, 90)), "person": ((220, 30, 60), (7, 0)),
    "rider": ((250, 90, 0), (7, 90)), "car": ((20, 30, 200), (16, 90)),
    "truck": ((0, 110, 110), (12, 30)), "bus": ((230, 120, 200), (18, 0)),
    "train": ((110, 40, 160), (9, 60)), "motorcycle": ((0, 200, 220), (6, 45)),
    "bicycle": ((130, 20, 40), (5, 135)), "ego vehicle": ((15, 15, 15), (32, 0)),
    "static": ((100, 100, 60), (10, 10)), "dynamic": ((111, 74, 0), (10, 80)),
}

# Thing classes: (label name, relative height, width / height, how often).
THINGS = (("car", 0.30, 1.9, 5), ("person", 0.42, 0.38, 4), ("rider", 0.44, 0.45, 1),
          ("bicycle", 0.28, 1.3, 1), ("motorcycle", 0.28, 1.4, 1), ("truck", 0.50, 1.6, 1),
          ("bus", 0.55, 2.2, 1), ("train", 0.50, 3.0, 0.3))


def _lid(name):
    return name2label[name].id


class _Canvas:
    """Label id and instance id maps that are painted back to front."""

    def __init__(self, height, width):
        self.label = np.zeros((height, width), dtype=np.uint8)
        self.instance = np.zeros((height, width), dtype=np.int32)
        self.counters = {}

    def paint(self, mask, name, instance=False):
        """Paints ``mask`` with a label; ``instance`` True gives it a new instance id,
        otherwise the plain label id (stuff, or a crowd group of a thing class)."""
        lid = _lid(name)
        mask = np.broadcast_to(mask, self.label.shape)
        self.label[mask] = lid
        if instance:
            k = self.counters.get(lid, 0)
            self.counters[lid] = k + 1
            self.instance[mask] = lid * 1000 + k
        else:
            self.instance[mask] = lid


def _thing_mask(shape, name, x0, y1, h, w):
    """A crude silhouette with bottom-left corner (x0, y1), height h and width w."""
    mask = np.zeros(shape, dtype=np.uint8)
    x0, y1, h, w = int(x0), int(y1), max(int(h), 3), max(int(w), 3)
    if name in ("person", "rider"):
        head = max(h // 6, 2)
        cv2.circle(mask, (x0 + w // 2, y1 - h + head), head, 1, -1)
        cv2.rectangle(mask, (x0, y1 - h + 2 * head), (x0 + w, y1 - h // 3), 1, -1)
        cv2.rectangle(mask, (x0 + w // 6, y1 - h // 3), (x0 + w - w // 6, y1), 1, -1)
    elif name in ("bicycle", "motorcycle"):
        r = max(h // 4, 2)
        cv2.circle(mask, (x0 + r, y1 - r), r, 1, max(r // 3, 1))
        cv2.circle(mask, (x0 + w - r, y1 - r), r, 1, max(r // 3, 1))
        cv2.rectangle(mask, (x0 + r, y1 - h), (x0 + w - r, y1 - r), 1, -1)
    else:  # vehicles: body plus a narrower cabin
        cv2.rectangle(mask, (x0, y1 - int(h * 0.6)), (x0 + w, y1 - h // 8), 1, -1)
        cv2.rectangle(mask, (x0 + w // 5, y1 - h), (x0 + w - w // 5, y1 - int(h * 0.55)), 1, -1)
        r = max(h // 7, 2)
        cv2.circle(mask, (x0 + w // 5, y1 - r), r, 1, -1)
        cv2.circle(mask, (x0 + w - w // 5, y1 - r), r, 1, -1)
    return mask.astype(bool)


def make_scene(rng, height, width):
    """Draws one scene.

    Returns:
        tuple: ``label_ids`` [H, W] uint8 Cityscapes label ids and ``instance_ids`` [H, W]
        int32 Cityscapes instance ids.
    """
    c = _Canvas(height, width)
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    horizon = int(height * rng.uniform(0.42, 0.52))
    c.paint(np.ones((height, width), dtype=bool), "sky")
    # Buildings (some walls) with a ragged skyline.
    x = -int(rng.integers(0, width // 10))
    while x < width:
        w = int(rng.integers(width // 10, width // 4))
        top = int(rng.integers(int(height * 0.05), horizon - height // 8))
        mask = (rows >= top) & (rows < horizon) & (cols >= x) & (cols < x + w)
        c.paint(mask, "wall" if rng.random() < 0.15 else "building")
        x += w
    for _ in range(rng.integers(1, 4)):  # trees
        cx = int(rng.integers(0, width))
        cy = int(horizon - rng.integers(height // 12, height // 4))
        ax = int(rng.integers(width // 20, width // 8))
        ay = int(rng.integers(height // 10, height // 5))
        mask = ((cols - cx) / ax) ** 2 + ((rows - cy) / ay) ** 2 <= 1
        c.paint(mask & (rows < horizon + height // 20), "vegetation")
    # Ground: sidewalk everywhere, a road trapezoid, terrain strips at the sides.
    ground = rows >= horizon
    c.paint(ground, "sidewalk")
    centre = width * rng.uniform(0.4, 0.6)
    depth = (rows - horizon) / max(height - horizon, 1)
    half = width * (0.04 + 0.5 * depth)
    c.paint(ground & (np.abs(cols - centre) < half), "road")
    if rng.random() < 0.7:
        c.paint(ground & (cols < centre - half - width * (0.05 + 0.25 * depth)), "terrain")
    if rng.random() < 0.5:
        c.paint((rows >= horizon - height // 12) & (rows < horizon + height // 40)
                & (cols > width * rng.uniform(0.6, 0.8)), "fence")
    # Poles with signs or lights.
    for _ in range(rng.integers(1, 4)):
        px = int(rng.integers(0, width))
        bottom = int(horizon + rng.integers(0, max((height - horizon) // 2, 1)))
        top = int(height * rng.uniform(0.1, 0.3))
        pw = max(width // 200, 2)
        c.paint((rows >= top) & (rows < bottom) & (cols >= px) & (cols < px + pw), "pole")
        sign = "traffic sign" if rng.random() < 0.6 else "traffic light"
        sw, sh = max(width // 40, 4), max(height // 25, 4)
        c.paint((rows >= top) & (rows < top + sh) & (cols >= px - sw // 2)
                & (cols < px + sw // 2 + pw), sign)
    if rng.random() < 0.5:  # void: a static object on the sidewalk
        sx, sy = int(rng.integers(0, width)), int(rng.integers(horizon, height))
        c.paint((np.abs(rows - sy) < height // 30) & (np.abs(cols - sx) < width // 40),
                "static" if rng.random() < 0.5 else "dynamic")

    # Things, far to near so that nearer ones occlude; some crowd groups; some cut by borders.
    names, sizes, ratios, freq = zip(*THINGS)
    prob = np.array(freq, dtype=float) / sum(freq)
    objects = []
    for _ in range(int(rng.integers(6, 13))):
        j = int(rng.choice(len(names), p=prob))
        y1 = int(horizon + (height - horizon) * rng.uniform(0.08, 1.0) ** 0.8)
        objects.append((y1, j, bool(rng.random() < 0.12)))
    objects.sort()
    for y1, j, crowd in objects:
        scale = (y1 - horizon) / max(height - horizon, 1) + 0.05
        h = sizes[j] * height * scale
        w = h * ratios[j]
        x0 = rng.uniform(-w * 0.6, width - w * 0.4)  # may stick out on either side
        if crowd:  # a group whose members cannot be told apart: one region, no instance
            mask = np.zeros((height, width), dtype=bool)
            for m in range(int(rng.integers(3, 6))):
                mask |= _thing_mask(mask.shape, names[j], x0 + m * w * 0.45, y1, h, w)
            c.paint(mask, names[j], instance=False)
        else:
            c.paint(_thing_mask((height, width), names[j], x0, y1, h, w), names[j],
                    instance=True)
    if rng.random() < 0.5:
        c.paint(rows >= height - int(height * rng.uniform(0.04, 0.09)), "ego vehicle")
    return c.label, c.instance


def render_image(rng, label_ids, instance_ids):
    """Colours a scene: class colour and texture, per-instance shade, dark outlines, noise.

    Returns:
        np.ndarray: ``[H, W, 3]`` uint8 RGB image.
    """
    height, width = label_ids.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), dtype=np.float32)
    for lid in np.unique(label_ids):
        name = labels[[l.id for l in labels].index(int(lid))].name
        colour, (period, angle) = APPEARANCE.get(name, ((0, 0, 0), (16, 0)))
        mask = label_ids == lid
        theta = np.deg2rad(angle)
        wave = np.sin(2 * np.pi * (xx[mask] * np.cos(theta) + yy[mask] * np.sin(theta)) / period)
        image[mask] = np.asarray(colour, dtype=np.float32) * (1 + 0.18 * wave[:, None])
    for iid in np.unique(instance_ids[instance_ids >= 1000]):
        image[instance_ids == iid] *= rng.uniform(0.75, 1.2)
    edge = np.zeros((height, width), dtype=bool)
    edge[:, 1:] |= instance_ids[:, 1:] != instance_ids[:, :-1]
    edge[1:, :] |= instance_ids[1:, :] != instance_ids[:-1, :]
    image[edge] *= 0.45
    image += rng.normal(0.0, 6.0, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_png(path, array):
    if not cv2.imwrite(path, array):
        raise OSError("could not write {}".format(path))


def make_toy_cityscapes(out, num_train=48, num_val=12, height=256, width=512, seed=0,
                        quiet=True):
    """Writes a synthetic Cityscapes folder and its panoptic annotations.

    Args:
        out (str): output folder (created; existing files of the same names are replaced).
        num_train (int): training images. num_val (int): validation images.
        height (int), width (int): image size in pixels.
        seed (int): the output is a pure function of all arguments.
        quiet (bool): swallow cityscapesScripts' progress output.

    Returns:
        dict: ``{split: number of images}`` for the splits written.
    """
    if height < 32 or width < 32:
        raise ValueError("toy images must be at least 32x32, got {}x{}".format(height, width))
    counts = {"train": int(num_train), "val": int(num_val)}
    if any(n < 0 for n in counts.values()) or not any(counts.values()):
        raise ValueError("need a non-negative number of images and at least one in total, "
                         "got {}".format(counts))
    train_id = np.full(256, 255, dtype=np.uint8)
    colour = np.zeros((256, 3), dtype=np.uint8)
    for lab in labels:
        if 0 <= lab.id < 256:
            train_id[lab.id] = lab.trainId if 0 <= lab.trainId < 255 else 255
            colour[lab.id] = lab.color
    for split_no, (split, count) in enumerate(counts.items()):
        cities = CITIES[split]
        for i in range(count):
            city = cities[i % len(cities)]
            stem = "{}_{:06d}_{:06d}".format(city, i // len(cities), 19)
            rng = np.random.default_rng([seed, split_no, i])
            label_ids, instance_ids = make_scene(rng, height, width)
            image = render_image(rng, label_ids, instance_ids)
            img_dir = os.path.join(out, "leftImg8bit", split, city)
            gt_dir = os.path.join(out, "gtFine", split, city)
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(gt_dir, exist_ok=True)
            _write_png(os.path.join(img_dir, stem + "_leftImg8bit.png"),
                       cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            gt = os.path.join(gt_dir, stem + "_gtFine_")
            _write_png(gt + "labelIds.png", label_ids)
            _write_png(gt + "instanceIds.png", instance_ids.astype(np.uint16))
            _write_png(gt + "labelTrainIds.png", train_id[label_ids])
            _write_png(gt + "color.png", cv2.cvtColor(colour[label_ids], cv2.COLOR_RGB2BGR))
    splits = [s for s, n in counts.items() if n > 0]
    convert_to_panoptic(out, splits, quiet=quiet)
    return {s: counts[s] for s in splits}
