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


def instance_scores(panoptic, label_divisor, semantic_softmax,
                    names=("panoptic", "semantic_softmax")):
    """Score of every predicted instance: the mean softmax probability of its class over it.

    Predicted instances are the ids with an instance number of at least 1 (see the module
    docstring).

    Args:
        panoptic (np.ndarray | Tensor): [H, W] integer panoptic ids.
        label_divisor (int): as in ``panoptic``.
        semantic_softmax (np.ndarray | Tensor): [C, H, W] class probabilities.
        names (tuple[str, str]): how error messages call the two maps.

    Returns:
        tuple: ``ids`` [P] int64 ascending, ``classes`` [P] int64, ``scores`` [P] float64,
        ``index`` (the [H, W] position of each pixel's instance in ``ids``, -1 for none).

    Raises:
        ValueError: on mismatched shapes or an instance class without a softmax channel.
    """
    panoptic = to_numpy(panoptic)
    softmax = to_numpy(semantic_softmax)
    if softmax.ndim != 3 or softmax.shape[1:] != panoptic.shape:
        raise ValueError("{1} must be [C, H, W] with (H, W) = {0}'s shape {2}, got {3}".format(
            *names, tuple(panoptic.shape), tuple(softmax.shape)))
    ids, index, counts = compact_ids(panoptic)
    classes, numbers = decode(ids, label_divisor)
    keep = has_instance(ids, label_divisor) & (numbers > 0)
    classes = classes[keep]
    if classes.size and classes.max() >= softmax.shape[0]:
        raise ValueError("{} holds instance id {} of class {} but {} has {} classes".format(
            names[0], int(ids[keep][classes.argmax()]), int(classes.max()), names[1],
            softmax.shape[0]))
    remap = np.full(ids.size, -1, dtype=np.int32)
    remap[keep] = np.arange(classes.size, dtype=np.int32)
    index = np.take(remap, index)
    scores = mean_class_probability(index, classes, counts[keep], softmax)
    return ids[keep], classes, scores, index
