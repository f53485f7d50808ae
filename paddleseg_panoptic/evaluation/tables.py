"""Whole-image counting helpers shared by the evaluators.

Every evaluator reduces an image to small tables: the distinct ids of a label map with their
pixel counts (:func:`~paddleseg_panoptic.utils.panoptic_ids.compact_ids`), and the
(ground-truth segment x predicted segment) intersection counts. Both are built with one ``numpy.bincount`` over the whole image instead of one boolean mask per segment,
so the cost is a few passes over the pixels whatever the number of segments.
"""
import numpy as np

from paddleseg_panoptic.utils.arrays import to_numpy


def as_label_map(array, name):
    """Return ``array`` as an int64 numpy array, refusing non-integer data.

    Args:
        array (np.ndarray | paddle.Tensor): a label map of any integer or bool dtype.
        name (str): argument name used in the error message.

    Raises:
        TypeError: when the values are not integers.
    """
    array = to_numpy(array)
    if array.dtype == np.bool_:
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError("{} must hold integer labels, got dtype {}".format(name, array.dtype))
    return array.astype(np.int64, copy=False)


def check_same_shape(a, b, name_a, name_b):
    """Raise ``ValueError`` naming both arguments when ``a`` and ``b`` differ in shape."""
    if a.shape != b.shape:
        raise ValueError("{} has shape {} but {} has shape {}; they must be equal".format(
            name_a, tuple(a.shape), name_b, tuple(b.shape)))


def intersection_table(index_a, num_a, index_b, num_b):
    """Pixel counts of every (a, b) pair of compact indices, in one bincount.

    Args:
        index_a (np.ndarray): integer compact indices in ``[0, num_a)``.
        index_b (np.ndarray): integer compact indices in ``[0, num_b)``, same shape as index_a.

    Returns:
        np.ndarray: [num_a, num_b] int64, entry (i, j) = number of pixels with a == i and b == j.
    """
    if num_a == 0 or num_b == 0:
        return np.zeros((num_a, num_b), dtype=np.int64)
    # int32 arithmetic is enough below 2**31 pairs and twice as fast as int64.
    dtype = np.int32 if num_a * num_b < 2 ** 31 else np.int64
    combined = index_a.ravel().astype(dtype, copy=False) * dtype(num_b)
    combined += index_b.ravel()
    return np.bincount(combined, minlength=num_a * num_b).reshape(num_a, num_b).astype(np.int64)
