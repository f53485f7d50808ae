"""Colour pictures and machine-readable files from semantic / panoptic maps (pure numpy).

Every function is deterministic: the colours depend only on the values in the maps, never on a
random state, so the same prediction always gives byte-identical PNG and JSON files.

Panoptic ids follow :mod:`paddleseg_panoptic.utils.panoptic_ids`: ``class * label_divisor + k``
for an instance of a thing class, ``class`` for a stuff segment (and for a thing region without
instance), ``ignore_index`` for pixels that belong to no segment.
"""
import itertools
import json

import cv2
import numpy as np
from scipy import ndimage

from paddleseg_panoptic.datasets import meta
from paddleseg_panoptic.utils.panoptic_ids import (class_map, compact_ids, decode, has_instance,
                                                   panoptic_instance_scores)
# Step (per channel) between the colours given to segments of one class.
_SHIFT_STEP = 12


def _check_map(array, name, ndim=2):
    array = np.asarray(array)
    if array.ndim != ndim:
        raise ValueError("{} must have {} dimensions, got shape {}".format(name, ndim,
                                                                        array.shape))
    return array


def _palette_array(palette):
    palette = np.asarray(palette, dtype=np.int64)
    if palette.ndim != 2 or palette.shape[1] != 3:
        raise ValueError("palette must be a sequence of (R, G, B), got shape {}".format(
            palette.shape))
    return palette


def colorize_semantic(semantic, palette=meta.PALETTE):
    """Paint a class map with the palette.

    Args:
        semantic (np.ndarray): [H, W] integer class ids.
        palette (sequence): (R, G, B) of each class id.

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB; ids outside the palette (``ignore_index``) are black.
    """
    semantic = _check_map(semantic, "semantic").astype(np.int64)
    palette = _palette_array(palette)
    lut = np.zeros((len(palette) + 1, 3), dtype=np.uint8)
    lut[:len(palette)] = palette
    index = np.where((semantic >= 0) & (semantic < len(palette)), semantic, len(palette))
    return lut[index]


def blend(image, color, weight=0.5):
    """Blend a colour picture over an image: ``image * (1 - weight) + color * weight``.

    Args:
        image (np.ndarray): [H, W, 3] uint8 RGB.
        color (np.ndarray): [H, W, 3] uint8 RGB.
        weight (float): weight of ``color``.

    Returns:
        np.ndarray: [H, W, 3] uint8, rounded to the nearest integer.
    """
    image = _check_map(image, "image", 3)
    color = _check_map(color, "color", 3)
    if image.shape != color.shape:
        raise ValueError("image {} and color {} must have the same shape".format(
            image.shape, color.shape))
    # float32 holds every value exactly for weight 0.5 (multiples of 0.5 below 256).
    mixed = (image.astype(np.float32) * np.float32(1.0 - weight)
             + color.astype(np.float32) * np.float32(weight))
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def colorize_heatmap(heatmap):
    """Paint a centre heatmap with the JET colour map: 0 dark blue, 1 dark red.

    Args:
        heatmap (np.ndarray): [H, W] values in [0, 1] (clipped).

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB.
    """
    heatmap = _check_map(heatmap, "heatmap").astype(np.float32)
    grey = np.rint(np.clip(heatmap, 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def colorize_offsets(offsets, max_length=None):
    """Paint an offset field on a colour wheel: hue = direction, brightness = length.

    A vector pointing right (+x) is red, down (+y) yellow-green, left cyan, up violet;
    a zero vector is black and the longest (or ``max_length``) full brightness.

    Args:
        offsets (np.ndarray): [2, H, W], (dy, dx) in pixels.
        max_length (float, optional): length shown at full brightness (longer ones clipped);
            default the longest vector of the field.

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB.
    """
    offsets = _check_map(offsets, "offsets", 3).astype(np.float32)
    if offsets.shape[0] != 2:
        raise ValueError("offsets must be [2, H, W] (dy, dx), got shape {}".format(
            offsets.shape))
    dy, dx = offsets
    length = np.hypot(dy, dx)
    if max_length is None:
        max_length = float(length.max()) if length.size else 0.0
    value = np.clip(length / max_length, 0.0, 1.0) if max_length > 0 else np.zeros_like(length)
    # OpenCV's 8-bit hue runs over [0, 180): two degrees per step.
    hue = np.degrees(np.arctan2(dy, dx)) % 360.0 / 2.0
    hsv = np.stack([np.rint(hue) % 180, np.full_like(hue, 255), np.rint(value * 255)], axis=-1)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def panoptic_to_semantic(panoptic, label_divisor=meta.LABEL_DIVISOR,
                         ignore_index=meta.IGNORE_INDEX):
    """Class map of a panoptic map: ``id // label_divisor`` for instance ids, ``id`` otherwise.

    Args:
        panoptic (np.ndarray): [H, W] integer panoptic ids.

    Returns:
        np.ndarray: [H, W] int64 class ids, ``ignore_index`` where the panoptic map has it.
    """
    return class_map(_check_map(panoptic, "panoptic"), label_divisor, ignore_index)


def segment_ids(panoptic, ignore_index=meta.IGNORE_INDEX):
    """Sorted ids of the segments in a panoptic map (``ignore_index`` excluded).

    Returns:
        np.ndarray: [K] int64.
    """
    ids = compact_ids(_check_map(panoptic, "panoptic"))[0]
    return ids[ids != ignore_index]


def _shifts():
    """Colour offsets, the zero offset first, then by growing size (deterministic order)."""
    for radius in itertools.count(1):
        shell = [s for s in itertools.product(range(-radius, radius + 1), repeat=3)
                 if max(abs(c) for c in s) == radius]
        shell.sort(key=lambda s: (sum(abs(c) for c in s), s))
        for s in shell:
            yield tuple(_SHIFT_STEP * c for c in s)


def _paint(id_map, lut_ids, lut_colors):
    """Colour ``lut_colors[i]`` where ``id_map == lut_ids[i]``, black elsewhere."""
    if not lut_ids:
        return np.zeros(id_map.shape + (3,), dtype=np.uint8)
    ids, index, _ = compact_ids(id_map)
    lut_ids = np.asarray(lut_ids, dtype=np.int64)
    position = np.minimum(np.searchsorted(ids, lut_ids), ids.size - 1)
    hit = ids[position] == lut_ids
    table = np.zeros((ids.size, 3), dtype=np.uint8)  # one colour per distinct id of the map
    table[position[hit]] = np.asarray(lut_colors, dtype=np.uint8)[hit]
    return table[index]


def panoptic_colors(panoptic, label_divisor=meta.LABEL_DIVISOR, ignore_index=meta.IGNORE_INDEX,
                    palette=meta.PALETTE):
    """Colour of each segment for :func:`colorize_panoptic`.

    The first segment of a class (in ascending id order) gets the class colour, the next ones the
    class colour shifted by small steps; a shifted colour already taken (by any class) or black
    is skipped, so every segment has its own colour.

    Returns:
        dict: segment id -> (R, G, B).
    """
    palette = _palette_array(palette)
    used = {(0, 0, 0)}
    lut_ids, lut_colors = [], []
    ids = segment_ids(panoptic, ignore_index)
    classes = decode(ids, label_divisor)[0]
    # The unshifted class colours are reserved first so that no shifted colour can take them.
    for cls in np.unique(classes):
        if 0 <= cls < len(palette):
            used.add(tuple(int(c) for c in palette[cls]))
    for cls in np.unique(classes):
        if not 0 <= cls < len(palette):
            continue  # no palette colour: left black like ignore
        base = tuple(int(c) for c in palette[cls])
        # One offset sequence per class, resumed for each segment: a candidate rejected once
        # stays taken, because `used` only grows.
        shifts = (s for s in _shifts() if any(s))
        for position, segment_id in enumerate(ids[classes == cls]):
            color = base
            if position > 0:
                for shift in shifts:
                    color = tuple(min(max(b + d, 0), 255) for b, d in zip(base, shift))
                    if color not in used:
                        break
                used.add(color)
            lut_ids.append(int(segment_id))
            lut_colors.append(color)
    return dict(zip(lut_ids, lut_colors))


def colorize_panoptic(panoptic, label_divisor=meta.LABEL_DIVISOR,
                      ignore_index=meta.IGNORE_INDEX, palette=meta.PALETTE):
    """Paint a panoptic map: class colours, segments of one class told apart by small shifts.

    Args:
        panoptic (np.ndarray): [H, W] integer panoptic ids.

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB, every segment a distinct colour, ``ignore_index`` black.
    """
    panoptic = _check_map(panoptic, "panoptic").astype(np.int64)
    colors = panoptic_colors(panoptic, label_divisor, ignore_index, palette)
    return _paint(panoptic, list(colors), list(colors.values()))


def instance_colors(panoptic, label_divisor=meta.LABEL_DIVISOR, ignore_index=meta.IGNORE_INDEX):
    """Colour of each instance for :func:`colorize_instance`.

    An instance's colour is drawn from a random generator seeded with its id (stable across
    numpy versions), so an id keeps its colour from image to image; a colour already taken by a
    smaller id is drawn again.

    Returns:
        dict: instance id -> (R, G, B).
    """
    used = {(0, 0, 0)}
    colors = {}
    for instance_id in segment_ids(panoptic, ignore_index):
        if not has_instance(instance_id, label_divisor):
            continue
        rng = np.random.RandomState(int(instance_id) % (2 ** 32))
        while True:
            # Channels from 48 up so that an instance never looks like the black background.
            color = tuple(int(c) for c in rng.randint(48, 256, size=3))
            if color not in used:
                break
        used.add(color)
        colors[int(instance_id)] = color
    return colors


def colorize_instance(panoptic, label_divisor=meta.LABEL_DIVISOR,
                      ignore_index=meta.IGNORE_INDEX):
    """Paint the instances of a panoptic map (ids >= label_divisor), one colour each.

    Args:
        panoptic (np.ndarray): [H, W] integer panoptic ids.

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB; stuff, thing regions without instance and ignore black.
    """
    panoptic = _check_map(panoptic, "panoptic").astype(np.int64)
    colors = instance_colors(panoptic, label_divisor, ignore_index)
    return _paint(panoptic, list(colors), list(colors.values()))


def segments_info(panoptic, semantic_softmax=None, label_divisor=meta.LABEL_DIVISOR,
                  ignore_index=meta.IGNORE_INDEX, thing_list=meta.THING_LIST,
                  class_names=meta.CLASS_NAMES, scores=None):
    """Describe every segment of a panoptic map.

    Args:
        panoptic (np.ndarray): [H, W] integer panoptic ids.
        semantic_softmax (np.ndarray, optional): [C, H, W] class probabilities; when given
            (and ``scores`` is not), an instance's ``score`` is the mean probability of its
            class over its pixels (the ``semantic`` instance score).
        scores (dict[int, float], optional): the score of each instance id (e.g. from
            :func:`paddleseg_panoptic.utils.panoptic_ids.panoptic_instance_scores` with another
            mode), used instead of ``semantic_softmax``.

    Returns:
        list[dict]: in ascending id order, each ``{'id', 'category_id', 'category_name',
        'isthing', 'area', 'bbox': [x, y, w, h], 'score'}``; ``score`` is None for segments
        that are not predicted instances (see :mod:`paddleseg_panoptic.utils.panoptic_ids`)
        or without ``semantic_softmax`` and ``scores``.
    """
    panoptic = _check_map(panoptic, "panoptic").astype(np.int64)
    ids, inverse, areas = compact_ids(panoptic)
    classes = decode(ids, label_divisor)[0]
    if scores is None and semantic_softmax is not None:
        scores = panoptic_instance_scores(panoptic, semantic_softmax,
                                          label_divisor=label_divisor)
    # Bounding boxes of all segments in one pass: find_objects labels start at 1.
    boxes = ndimage.find_objects(inverse + 1, max_label=len(ids))
    thing_set = set(int(t) for t in thing_list)
    infos = []
    for index, (segment_id, cls, area) in enumerate(zip(ids, classes, areas)):
        if segment_id == ignore_index:
            continue
        rows, cols = boxes[index]
        score = None if scores is None else scores.get(int(segment_id))
        infos.append({
            "id": int(segment_id),
            "category_id": int(cls),
            "category_name": class_names[cls] if 0 <= cls < len(class_names) else str(cls),
            "isthing": int(cls) in thing_set,
            "area": int(area),
            "bbox": [int(cols.start), int(rows.start), int(cols.stop - cols.start),
                     int(rows.stop - rows.start)],
            "score": None if score is None else round(float(score), 6),
        })
    return infos


def write_png(path, rgb):
    """Write an [H, W, 3] uint8 RGB (or [H, W] grey) array as PNG (deterministic bytes).

    Uses ``cv2.imencode`` + ``tofile`` so that non-ASCII paths work too.
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise IOError("could not encode PNG for {}".format(path))
    data.tofile(str(path))


def read_png_rgb(path):
    """Read a PNG (or any image) as an [H, W, 3] uint8 RGB array, exactly as stored."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise IOError("cannot read image {}".format(path))
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)


def write_json(path, obj):
    """Write ``obj`` as indented JSON with a trailing newline (deterministic bytes)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
