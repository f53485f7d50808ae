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

Scenes: sky, buildings, vegetation, road and sidewalk bands and terrain; instances of thing
classes in perspective, nearer ones occluding farther ones, some cut by the image border; crowd
groups; void (ego vehicle, static and dynamic objects). Two styles:

- ``"easy"``: all eight Cityscapes thing classes, walls, fences, poles, signs and lights; every
  class has its own colour and texture and instances dark outlines, so colour alone tells the
  classes apart (the unit tests' scenes; its output never changes).
- ``"hard"``: 6 stuff classes and 3 thing classes (car, person, truck; see
  :data:`HARD_THINGS`), in groups of side-by-side, overlapping instances. Each region takes one
  of its class's typical looks, shared with other classes (grey road, grey concrete, overcast
  sky), textures come from one bank shared by all classes, every instance has its own colour
  and parts (windows and tyres, heads and trousers), plus shadows, lighting, blur and noise:
  colour alone classifies under half of the pixels. Thin classes (poles, signs, lights,
  fences) are left out: at the demo's 256 x 128 they would be a pixel or two wide.

Output is a pure function of the arguments (one RNG per image).
"""
import os

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import labels, name2label

from paddleseg_panoptic.datasets.prepare import convert_to_panoptic

STYLES = ("easy", "hard")

# Named sets: what the quick-start configs expect under their dataset_root.
PRESETS = {
    # configs/quick_start/*_toy.yml (the tests' kind of scenes): data/toy_cityscapes
    "toy": {"style": "easy", "height": 256, "width": 512, "num_train": 48, "num_val": 12},
    # the demo's config, configs/quick_start/*_demo.yml: data/toy_cityscapes_hard
    "demo": {"style": "hard", "height": 128, "width": 256, "num_train": 300, "num_val": 30},
}
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


def _check_style(style):
    if style not in STYLES:
        raise ValueError("unknown toy style {!r} (choose from {})".format(style, STYLES))


def _size_at(height, horizon, y1, j):
    """Height and width in pixels of thing class ``THINGS[j]`` standing at row ``y1``:
    perspective makes objects grow linearly with their distance below the horizon."""
    scale = (y1 - horizon) / max(height - horizon, 1) + 0.05
    h = THINGS[j][1] * height * scale
    return h, h * THINGS[j][2]


def _thing_frequencies():
    freq = [t[3] for t in THINGS]
    return np.array(freq, dtype=float) / sum(freq)


def _easy_objects(rng, height, width, horizon):
    """6-12 things anywhere below the horizon, yielded as ``(y1, j, crowd, h, w, x0)`` far to
    near; each position is drawn when the caller asks for the object (after painting the one
    before), the order of random draws that the easy scenes have always had."""
    prob = _thing_frequencies()
    objects = []
    for _ in range(int(rng.integers(6, 13))):
        j = int(rng.choice(len(THINGS), p=prob))
        y1 = int(horizon + (height - horizon) * rng.uniform(0.08, 1.0) ** 0.8)
        objects.append((y1, j, bool(rng.random() < 0.12)))
    objects.sort()
    for y1, j, crowd in objects:
        h, w = _size_at(height, horizon, y1, j)
        x0 = rng.uniform(-w * 0.6, width - w * 0.4)  # may stick out on either side
        yield y1, j, crowd, h, w, x0


# Hard scenes: the thing classes drawn and how often. Few classes, each seen often enough in a
# few hundred images to be learned from scratch in minutes.
HARD_THINGS = {"car": 5, "person": 4, "truck": 1}


def _hard_objects(rng, height, width, horizon):
    """2-5 groups of 1-3 things of :data:`HARD_THINGS` in the nearer part of the ground;
    members of a group stand side by side and partly overlap (the nearer one in front), like
    parked cars or people walking together. ``(y1, j, crowd, h, w, x0)`` far to near."""
    names = [t[0] for t in THINGS]
    kinds = [names.index(name) for name in HARD_THINGS]
    prob = np.array(list(HARD_THINGS.values()), dtype=float)
    objects = []
    for _ in range(int(rng.integers(2, 6))):
        j = kinds[int(rng.choice(len(kinds), p=prob / prob.sum()))]
        y1 = horizon + (height - horizon) * rng.uniform(0.35, 1.0)
        crowd = bool(rng.random() < 0.1)
        person = THINGS[j][2] < 1
        # People are drawn a third larger than in the easy scenes (near pedestrians), so that
        # at 256 x 128 they are still several output pixels (stride 4) wide.
        grow = 1.3 if person else 1.0
        h, w = (v * grow for v in _size_at(height, horizon, y1, j))
        x0 = rng.uniform(-w * 0.3, width - w * 0.7)
        # People keep more apart than parked cars: their centres must stay distinct.
        overlap = (0.85, 1.15) if person else (0.55, 0.9)
        step = rng.choice((-1, 1)) * w * rng.uniform(*overlap)
        for m in range(1 if crowd else int(rng.integers(1, 4))):
            y = y1 + m * (height - horizon) * rng.uniform(0.0, 0.06)
            hm, wm = (v * grow for v in _size_at(height, horizon, y, j))
            objects.append((int(min(y, height - 1)), j, crowd, hm, wm, x0 + m * step))
    objects.sort(key=lambda o: o[0])
    return objects


def make_scene(rng, height, width, style="easy"):
    """Draws one scene.

    Args:
        rng (np.random.Generator): the only source of randomness.
        height (int), width (int): size in pixels.
        style (str): ``"easy"`` (6-12 things of every size, the original scenes) or
            ``"hard"`` (2-15 larger cars, people and trucks, often in overlapping rows: parked
            cars, groups of people; no thin stuff classes).

    Returns:
        tuple: ``label_ids`` [H, W] uint8 Cityscapes label ids and ``instance_ids`` [H, W]
        int32 Cityscapes instance ids.
    """
    _check_style(style)
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
        wall = rng.random() < 0.15
        c.paint(mask, "wall" if wall and style == "easy" else "building")
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
    if rng.random() < 0.5 and style == "easy":
        c.paint((rows >= horizon - height // 12) & (rows < horizon + height // 40)
                & (cols > width * rng.uniform(0.6, 0.8)), "fence")
    # Poles with signs or lights (easy scenes only: a few pixels wide at the hard scenes' size).
    for _ in range(rng.integers(1, 4) if style == "easy" else 0):
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
    if style == "easy":
        objects = _easy_objects(rng, height, width, horizon)
    else:
        objects = _hard_objects(rng, height, width, horizon)
    names = [name for name, _, _, _ in THINGS]
    for y1, j, crowd, h, w, x0 in objects:
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


def render_image(rng, label_ids, instance_ids, style="easy"):
    """Colours a scene.

    ``"easy"``: one colour and stripe texture per class, a per-instance shade, dark instance
    outlines, noise; colour alone tells the classes apart. ``"hard"``: see
    :func:`_render_hard`.

    Returns:
        np.ndarray: ``[H, W, 3]`` uint8 RGB image.
    """
    _check_style(style)
    if style == "hard":
        return _render_hard(rng, label_ids, instance_ids)
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


# Hard style: every stuff region takes one of its class's typical looks (RGB), as real
# buildings are brick, concrete or glass, plus a random shift of up to REGION_COLOUR_SPREAD per
# channel; looks are shared between classes (grey road, grey sidewalk, grey concrete, overcast
# sky), so colour alone does not tell the class. Textures come from one bank shared by all
# classes. Things draw any colour per instance and have parts.
HARD_LOOKS = {
    "road": ((85, 85, 90), (120, 120, 125), (70, 65, 80)),
    "sidewalk": ((150, 150, 150), (170, 130, 120), (190, 180, 150)),
    "building": ((150, 80, 60), (150, 150, 150), (200, 190, 160), (100, 130, 160)),
    "vegetation": ((60, 120, 50), (40, 80, 40), (160, 120, 50)),
    "terrain": ((130, 160, 80), (140, 110, 80), (150, 150, 150)),
    "sky": ((120, 170, 230), (190, 190, 195), (230, 170, 120)),
    "ego vehicle": ((40, 40, 40),), "static": ((110, 100, 90),), "dynamic": ((110, 90, 70),),
}
REGION_COLOUR_SPREAD = 25
THING_COLOUR_SPREAD = 120  # around mid-grey: any colour, as cars and clothes come
WINDOW_COLOUR = (50, 60, 75)  # vehicle windows and tyres: dark in every class
SKIN_COLOURS = ((230, 190, 160), (190, 140, 100), (120, 80, 60))


def _texture(rng, yy, xx):
    """One texture from the shared bank, values about in [-1, 1] over the ``yy``/``xx``
    grid: stripes, checks, blotches or a smooth ramp, with random scale and direction."""
    kind = int(rng.integers(0, 4))
    period = rng.uniform(4, 32)
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    if kind == 0:
        return np.sin(2 * np.pi * u / period)
    if kind == 1:
        v = -xx * np.sin(theta) + yy * np.cos(theta)
        return np.sign(np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period))
    if kind == 2:
        h, w = yy.shape
        cells = rng.uniform(-1, 1, (max(int(h / period), 1) + 1, max(int(w / period), 1) + 1))
        return cv2.resize(cells.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return 2 * (u - u.min()) / max(float(np.ptp(u)), 1.0) - 1


def _colour_near(rng, centre, spread):
    return np.clip(np.asarray(centre, dtype=np.float32) + rng.uniform(-spread, spread, 3),
                   10, 245)


def _paint_region(rng, image, mask, colour, yy, xx):
    strength = rng.uniform(0.03, 0.15)
    image[mask] = colour * (1 + strength * _texture(rng, yy, xx)[mask][:, None])


def _render_hard(rng, label_ids, instance_ids):
    """Colours a scene so that colour does not give the class away: per-region looks shared
    between classes (:data:`HARD_LOOKS`), textures shared by all classes, per-instance
    colours with parts (vehicle windows and tyres, heads, shirts and trousers), cast shadows,
    a light gradient over the image, global gain, blur and noise; no outlines."""
    height, width = label_ids.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), dtype=np.float32)
    for lid in np.unique(label_ids):
        name = labels[[l.id for l in labels].index(int(lid))].name
        mask = (label_ids == lid) & (instance_ids < 1000)
        if not mask.any():
            continue
        # Stuff and void: one of the class's looks; crowd groups of things: any colour.
        looks = HARD_LOOKS.get(name)
        if looks is None:
            colour = _colour_near(rng, (128, 128, 128), THING_COLOUR_SPREAD)
        else:
            colour = _colour_near(rng, looks[int(rng.integers(0, len(looks)))],
                                  REGION_COLOUR_SPREAD)
        _paint_region(rng, image, mask, colour, yy, xx)
    for iid in np.unique(instance_ids[instance_ids >= 1000]):
        mask = instance_ids == iid
        _paint_region(rng, image, mask, _colour_near(rng, (128, 128, 128),
                                                     THING_COLOUR_SPREAD), yy, xx)
        rows = np.nonzero(mask.any(axis=1))[0]
        top, bottom = rows[0], rows[-1] + 1
        frac = (yy - top) / max(bottom - top, 1)
        name = labels[[l.id for l in labels].index(int(iid // 1000))].name
        if name in ("person", "rider"):
            skin = np.asarray(SKIN_COLOURS[int(rng.integers(0, 3))], dtype=np.float32)
            image[mask & (frac < 0.2)] = skin
            legs = mask & (frac > 0.66)
            image[legs] = _colour_near(rng, (80, 80, 90), 60)
        else:
            image[mask & (frac < 0.4)] = _colour_near(rng, WINDOW_COLOUR, 20)
            image[mask & (frac > 0.88)] = _colour_near(rng, WINDOW_COLOUR, 15) * 0.5
        # A shadow on the ground just below the object.
        cols = np.nonzero(mask[bottom - 1])[0]
        if cols.size and bottom < height:
            shadow = np.zeros((height, width), dtype=np.uint8)
            cv2.ellipse(shadow, (int(cols.mean()), int(bottom)),
                        (max(int(cols.size * 0.6), 2), max(int((bottom - top) * 0.06), 1)),
                        0, 0, 360, 1, -1)
            image[(shadow > 0) & (instance_ids < 1000)] *= 0.6
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (xx * np.cos(theta) + yy * np.sin(theta)) / max(height, width)
    image *= (rng.uniform(0.7, 1.2) * (1 + rng.uniform(0.1, 0.4) * ramp))[:, :, None]
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))
    image += rng.normal(0.0, rng.uniform(3.0, 10.0), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_png(path, array):
    if not cv2.imwrite(path, array):
        raise OSError("could not write {}".format(path))


def make_toy_cityscapes(out, num_train=48, num_val=12, height=256, width=512, seed=0,
                        quiet=True, style="easy"):
    """Writes a synthetic Cityscapes folder and its panoptic annotations.

    Args:
        out (str): output folder (created; existing files of the same names are replaced).
        num_train (int): training images. num_val (int): validation images.
        height (int), width (int): image size in pixels.
        seed (int): the output is a pure function of all arguments.
        quiet (bool): swallow cityscapesScripts' progress output.
        style (str): ``"easy"`` (classes told apart by colour; what the tests use) or
            ``"hard"`` (see :func:`make_scene` and :func:`render_image`).

    Returns:
        dict: ``{split: number of images}`` for the splits written.
    """
    _check_style(style)
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
            label_ids, instance_ids = make_scene(rng, height, width, style)
            image = render_image(rng, label_ids, instance_ids, style)
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
