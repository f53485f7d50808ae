"""Evaluation labels made from a panoptic PNG as stored on disk (docs/data.md).

Each function is one pass over the image through a pixel -> segment index map, so the cost does
not grow with the number of segments.
"""
import numpy as np

from paddleseg_panoptic.transforms.segment_index import gather, segment_index_map
from paddleseg_panoptic.utils.panoptic_ids import decode, encode, has_instance, rgb2id


def _ids(panoptic, to_id):
    panoptic = np.asarray(panoptic)
    if panoptic.ndim == 3:
        return np.asarray(to_id(panoptic))
    if panoptic.ndim == 2:
        return panoptic
    raise ValueError("panoptic label must be [H, W, 3] RGB or [H, W] ids, got shape {}".format(
        panoptic.shape))


def raw_semantic(panoptic, segments, ignore_index=255, to_id=rgb2id):
    """Semantic label: ``ignore_index``, and each listed segment's ``category_id`` (crowd too).

    Args:
        panoptic (np.ndarray): ``[H, W, 3]`` uint8 RGB label (or ``[H, W]`` ids).
        segments (list[dict]): ``segments_info`` entries with ``id`` and ``category_id``.
        ignore_index (int): value of unlisted pixels.
        to_id (callable): RGB -> id conversion.

    Returns:
        np.ndarray: ``[H, W]`` int64.
    """
    ids = _ids(panoptic, to_id)
    index = segment_index_map(ids, [s["id"] for s in segments])
    table = np.array([int(s["category_id"]) for s in segments] + [ignore_index], dtype=np.int64)
    return gather(table, index)


def raw_instance(panoptic, to_id=rgb2id, label_divisor=1000):
    """Class-agnostic instance label: 0, and 1, 2, ... for the instance ids (at or above
    ``label_divisor``) present in the image, numbered in ascending id order.

    Args:
        panoptic (np.ndarray): ``[H, W, 3]`` uint8 RGB label (or ``[H, W]`` ids).
        to_id (callable): RGB -> id conversion.
        label_divisor (int): ids at or above it are instances.

    Returns:
        np.ndarray: ``[H, W]`` int64.
    """
    ids = _ids(panoptic, to_id)
    present = np.zeros(0, dtype=np.int64) if ids.size == 0 else np.unique(ids)
    instance_ids = present[has_instance(present, label_divisor)]
    index = segment_index_map(ids, instance_ids)
    table = np.append(np.arange(1, instance_ids.size + 1, dtype=np.int64), 0)
    return gather(table, index)


def raw_panoptic(panoptic, segments, ignore_index=255, label_divisor=1000, to_id=rgb2id):
    """Panoptic label in train-id space: ``ignore_index``; stuff and crowd segments (id below
    ``label_divisor``) -> ``category_id``; instance segments ->
    ``category_id * label_divisor + id % label_divisor``.

    Args:
        panoptic (np.ndarray): ``[H, W, 3]`` uint8 RGB label (or ``[H, W]`` ids).
        segments (list[dict]): ``segments_info`` entries with ``id`` and ``category_id``.
        ignore_index (int): value of unlisted pixels.
        label_divisor (int): 1000 for Cityscapes.
        to_id (callable): RGB -> id conversion.

    Returns:
        np.ndarray: ``[H, W]`` int64.
    """
    ids = _ids(panoptic, to_id)
    seg_ids = [int(s["id"]) for s in segments]
    index = segment_index_map(ids, seg_ids)
    values = [int(encode(s["category_id"], decode(sid, label_divisor)[1], label_divisor))
              if has_instance(sid, label_divisor) else int(s["category_id"])
              for s, sid in zip(segments, seg_ids)]
    table = np.array(values + [ignore_index], dtype=np.int64)
    return gather(table, index)


def segment_labels(ids, segment_ids, *tables):
    """Per-pixel labels from per-segment values, through one pixel -> segment index map.

    Args:
        ids (np.ndarray): ``[H, W]`` segment ids.
        segment_ids (sequence[int]): the listed segments' ids.
        *tables: one ``(values, unlisted)`` pair per label: ``values[i]`` for the pixels of
            ``segment_ids[i]``, ``unlisted`` for all other pixels.

    Returns:
        tuple[np.ndarray]: one ``[H, W]`` int64 label per table.
    """
    index = segment_index_map(ids, segment_ids)
    return tuple(gather(np.array(list(values) + [unlisted], dtype=np.int64), index)
                 for values, unlisted in tables)
