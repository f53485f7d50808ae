"""Panoptic ids: how a segment id holds its class and instance number, and tables over them.

A panoptic map holds one segment id per pixel. With ``d`` the label divisor (1000 for
Cityscapes):

- an id ``v >= d`` is an instance segment of class ``v // d`` with instance number
  ``v % d``;
- an id ``v < d`` is a segment of class ``v`` without instance: a stuff segment, or a thing
  region without instance (a crowd region in the ground truth);
- ``ignore_index`` marks pixels of no segment (evaluators and pictures leave it out).

The post-processing numbers the instances of each class 1, 2, ...; ground truth may also hold
instance number 0 (Cityscapes numbers the instances of a class from 0). Predicted instances
are scored (:func:`instance_scores`) only with a number of at least 1.

Panoptic PNGs store ids in colour: ``id = R + 256 G + 256^2 B`` (:func:`rgb2id`,
:func:`id2rgb`).
"""
import cv2
import numpy as np

from .arrays import to_numpy

# Largest id an RGB PNG can hold.
MAX_RGB_ID = 256 ** 3 - 1
# Ids up to this bound (or up to 4x the pixel count, whichever is larger) are compacted with a
# dense lookup table; larger or negative ids fall back to numpy.unique (a sort).
_DENSE_ID_LIMIT = 1 << 16


def has_instance(ids, label_divisor):
    """Whether each id is an instance segment (``id >= label_divisor``)."""
    return np.asarray(ids) >= label_divisor


def decode(ids, label_divisor):
    """Class and instance number of each id (number 0 for ids without instance).

    Args:
        ids (np.ndarray | int): integer panoptic ids.
        label_divisor (int): ids at or above it are ``class * label_divisor + number``.

    Returns:
        tuple: (classes, numbers), int64 arrays of the shape of ``ids``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    instance = has_instance(ids, label_divisor)
    classes = np.where(instance, ids // label_divisor, ids)
    numbers = np.where(instance, ids % label_divisor, 0)
    return classes, numbers


def encode(classes, numbers, label_divisor):
    """Id of instance ``number`` (in [0, label_divisor)) of ``class``: the inverse of
    :func:`decode` on instance ids. A segment without instance has the class as its id."""
    return np.asarray(classes, dtype=np.int64) * label_divisor + np.asarray(numbers,
                                                                          dtype=np.int64)


def class_map(panoptic, label_divisor, ignore_index):
    """[H, W] int64 class of every pixel of a panoptic map; ``ignore_index`` stays."""
    panoptic = np.asarray(panoptic, dtype=np.int64)
    classes = decode(panoptic, label_divisor)[0]
    classes[panoptic == ignore_index] = ignore_index
    return classes


def rgb2id(color):
    """Segment ids of panoptic colours, ``id = R + 256 G + 256^2 B``.

    Args:
        color (np.ndarray | sequence): an [H, W, 3] RGB array, or one (R, G, B) colour.

    Returns:
        np.ndarray | int: [H, W] int32 ids for an array input, else a Python int.
    """
    if isinstance(color, np.ndarray) and color.ndim == 3:
        if color.shape[2] != 3:
            raise ValueError(
                "rgb2id expects an [H, W, 3] RGB array, got shape {}".format(color.shape))
        if color.dtype == np.uint8:
            # Append a zero byte per pixel and read the 4 bytes as one little-endian integer:
            # R + 256 G + 65536 B in a single vectorised pass.
            rgba = cv2.cvtColor(np.ascontiguousarray(color), cv2.COLOR_RGB2RGBA)
            ids = rgba.view("<u4")[..., 0]
            np.bitwise_and(ids, 0xFFFFFF, out=ids)  # drop the alpha byte cvtColor sets to 255
            return ids.view(np.int32)
        color = color.astype(np.int64)
        return (color[..., 0] + 256 * color[..., 1] + 256 * 256 * color[..., 2]).astype(np.int32)
    return int(color[0] + 256 * color[1] + 256 * 256 * color[2])


def id2rgb(ids):
    """Inverse of :func:`rgb2id`: [H, W] ids in [0, MAX_RGB_ID] -> [H, W, 3] uint8 RGB.

    Raises:
        ValueError: an id cannot be stored in three bytes.
    """
    ids = np.asarray(ids).astype(np.int64)
    if ids.ndim != 2:
        raise ValueError("panoptic must have 2 dimensions, got shape {}".format(ids.shape))
    if ids.size and (ids.min() < 0 or ids.max() > MAX_RGB_ID):
        raise ValueError("panoptic ids must lie in [0, {}] to be encoded as RGB, got [{}, {}]"
                         .format(MAX_RGB_ID, ids.min(), ids.max()))
    rgb = np.stack([ids % 256, (ids // 256) % 256, ids // 256 ** 2], axis=-1)
    return rgb.astype(np.uint8)


def compact_ids(values):
    """Distinct values of an integer array, their pixel counts and each pixel's compact index.

    Args:
        values (np.ndarray): integer array of any shape.

    Returns:
        tuple: ``ids`` [K] int64 sorted ascending, ``index`` (integer array of the shape of
        ``values``, the position of each element's value in ``ids``) and ``counts`` [K] int64.
    """
    values = np.asarray(values)
    flat = values.ravel()
    if flat.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(values.shape, dtype=np.int64), empty
    low, high = int(flat.min()), int(flat.max())
    if low >= 0 and high < max(_DENSE_ID_LIMIT, 4 * flat.size):
        all_counts = np.bincount(flat, minlength=high + 1)
        ids = np.flatnonzero(all_counts)
        # int32 positions: the gather below is the costly step and halves its memory traffic.
        lookup = np.zeros(high + 1, dtype=np.int32)
        lookup[ids] = np.arange(ids.size, dtype=np.int32)
        index = np.take(lookup, values)
        return ids.astype(np.int64), index, all_counts[ids].astype(np.int64)
    ids, index, counts = np.unique(flat, return_inverse=True, return_counts=True)
    return ids.astype(np.int64), index.reshape(values.shape).astype(np.int64), \
        counts.astype(np.int64)


# How a predicted instance is scored (see :func:`instance_scores`); the first is the reference's.
INSTANCE_SCORES = ("semantic", "center", "semantic_x_center")
DEFAULT_INSTANCE_SCORE = INSTANCE_SCORES[0]


def check_instance_score(mode):
    """Return ``mode`` if it is one of :data:`INSTANCE_SCORES`, else raise ValueError."""
    if mode not in INSTANCE_SCORES:
        raise ValueError("instance score must be one of {}, got {!r}".format(
            list(INSTANCE_SCORES), mode))
    return mode


def mean_class_probability(index, classes, counts, semantic_softmax):
    """Mean probability of each segment's class over the segment's pixels.

    Args:
        index (np.ndarray): [H, W] integer segment index per pixel, -1 for none.
        classes (np.ndarray): [S] class of each segment (< C).
        counts (np.ndarray): [S] pixel count of each segment (> 0).
        semantic_softmax (np.ndarray): [C, H, W] class probabilities.

    Returns:
        np.ndarray: [S] float64. Each sum runs over the pixels in row-major order.
    """
    flat = index.ravel()
    pixels = np.flatnonzero(flat >= 0)
    owner = flat[pixels]
    probs = semantic_softmax.reshape(semantic_softmax.shape[0], -1)[classes[owner], pixels]
    sums = np.bincount(owner, weights=probs.astype(np.float64), minlength=classes.size)
    return sums / counts


def centroid_values(index, counts, heatmap):
    """Value of ``heatmap`` at each segment's centroid (the mean row and column of its pixels,
    each rounded down).

    Args:
        index (np.ndarray): [H, W] integer segment index per pixel, -1 for none.
        counts (np.ndarray): [S] pixel count of each segment (> 0).
        heatmap (np.ndarray): [H, W].

    Returns:
        np.ndarray: [S] float64.
    """
    flat = index.ravel()
    pixels = np.flatnonzero(flat >= 0)
    owner = flat[pixels]
    rows, cols = np.divmod(pixels, index.shape[1])
    centre_y = (np.bincount(owner, weights=rows, minlength=counts.size) / counts).astype(np.int64)
    centre_x = (np.bincount(owner, weights=cols, minlength=counts.size) / counts).astype(np.int64)
    return heatmap[centre_y, centre_x].astype(np.float64)


def _score_map(value, names, which, shape, mode):
    """Map ``names[which]`` (1: [C, H, W] softmax, 2: [H, W] heatmap) as numpy, a leading
    axis of 1 dropped."""
    name, ndim = names[which], 4 - which
    if value is None:
        raise ValueError("instance score {!r} needs {}".format(mode, name))
    value = to_numpy(value)
    if value.ndim == ndim + 1 and value.shape[0] == 1:
        value = value[0]
    if value.ndim != ndim or value.shape[-2:] != tuple(shape):
        raise ValueError("{} must be [{}H, W] with (H, W) = {}'s shape {}, got {}".format(
            name, "C, " if ndim == 3 else "", names[0], tuple(shape), tuple(value.shape)))
    return value


def instance_scores(panoptic, label_divisor, semantic_softmax=None, center_heatmap=None,
                    mode=DEFAULT_INSTANCE_SCORE,
                    names=("panoptic", "semantic_softmax", "center_heatmap")):
    """Confidence of every predicted instance of a panoptic map.

    Predicted instances are the ids with an instance number of at least 1 (see the module
    docstring). Modes:

    - ``semantic`` (the reference's): the mean probability of the instance's class over its
      pixels;
    - ``center``: the centre heatmap at the instance's centroid (the mean row and column of
      its pixels, each rounded down);
    - ``semantic_x_center``: the product of the two (as detectron2's Panoptic-DeepLab).

    Args:
        panoptic (np.ndarray | Tensor): [H, W] integer panoptic ids.
        label_divisor (int): as in ``panoptic``.
        semantic_softmax (np.ndarray | Tensor | None): [C, H, W] class probabilities (needed
            by ``semantic`` and ``semantic_x_center``).
        center_heatmap (np.ndarray | Tensor | None): [H, W] or [1, H, W] centre heatmap
            (needed by ``center`` and ``semantic_x_center``).
        mode (str): one of :data:`INSTANCE_SCORES`.
        names (tuple[str, str, str]): how error messages call the three maps.

    Returns:
        tuple: ``ids`` [P] int64 ascending, ``classes`` [P] int64, ``scores`` [P] float64,
        ``index`` (the [H, W] position of each pixel's instance in ``ids``, -1 for none).

    Raises:
        ValueError: an unknown mode, a missing or wrongly sized map, or an instance class
            without a softmax channel.
    """
    check_instance_score(mode)
    panoptic = to_numpy(panoptic)
    shape = panoptic.shape
    softmax = heatmap = None
    if mode in ("semantic", "semantic_x_center"):
        softmax = _score_map(semantic_softmax, names, 1, shape, mode)
    if mode in ("center", "semantic_x_center"):
        heatmap = _score_map(center_heatmap, names, 2, shape, mode)
    ids, index, counts = compact_ids(panoptic)
    classes, numbers = decode(ids, label_divisor)
    keep = has_instance(ids, label_divisor) & (numbers > 0)
    classes, counts = classes[keep], counts[keep]
    if softmax is not None and classes.size and classes.max() >= softmax.shape[0]:
        raise ValueError("{} holds instance id {} of class {} but {} has {} classes".format(
            names[0], int(ids[keep][classes.argmax()]), int(classes.max()), names[1],
            softmax.shape[0]))
    remap = np.full(ids.size, -1, dtype=np.int32)
    remap[keep] = np.arange(classes.size, dtype=np.int32)
    index = np.take(remap, index)
    scores = np.ones(classes.size, dtype=np.float64)
    if softmax is not None:
        scores = mean_class_probability(index, classes, counts, softmax)
    if heatmap is not None:
        scores = scores * centroid_values(index, counts, heatmap)
    return ids[keep], classes, scores, index


def panoptic_instance_scores(panoptic, semantic_softmax=None, center_heatmap=None,
                             mode=DEFAULT_INSTANCE_SCORE, label_divisor=1000):
    """:func:`instance_scores` as a dict: instance panoptic id -> score."""
    ids, _, scores, _ = instance_scores(panoptic, int(label_divisor), semantic_softmax,
                                        center_heatmap, mode)
    return dict(zip(ids.tolist(), scores.tolist()))
