"""Fusion of the semantic and instance maps into a panoptic map (SPEC 6.4).

Instead of one whole-image mask per instance and per stuff class, one joint histogram
(instance id x class) over the thing pixels gives every instance's majority class, and one
histogram of the uncovered pixels gives every stuff class's area; lookup tables then write the
panoptic ids in a single pass.
"""
import numbers

import numpy as np
import paddle

from . import _arrays
from .grouping import thing_mask_numpy, thing_mask_paddle

__all__ = ["merge_semantic_and_instance"]

# Above this many distinct instance-id slots, ids are compressed with np.unique first.
_MAX_DIRECT_IDS = 1 << 20


def _check_args(label_divisor, stuff_area, ignore_index):
    if (isinstance(label_divisor, bool) or not isinstance(label_divisor, numbers.Integral)
            or label_divisor < 1):
        raise ValueError(f"label_divisor must be a positive int, got {label_divisor!r}")
    if isinstance(stuff_area, bool) or not isinstance(stuff_area, numbers.Real):
        raise ValueError(f"stuff_area must be a number, got {stuff_area!r}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise ValueError(f"ignore_index must be an int, got {ignore_index!r}")


def _instance_lut(counts, label_divisor):
    """Panoptic id per instance slot from the [slots, classes] histogram of thing pixels.

    Slots are visited in ascending order; an empty one keeps 0 (it is never looked up). Its
    class is the most frequent one (np.argmax: the smallest on ties); ids of one class count
    1, 2, ... in slot order.
    """
    lut = np.zeros(counts.shape[0], dtype=np.int64)
    slots = np.flatnonzero(counts.sum(axis=1) > 0)
    if slots.size == 0:
        return lut
    cls = counts[slots].argmax(axis=1).astype(np.int64)
    order = np.argsort(cls, kind="stable")  # slot order kept inside each class
    sorted_cls = cls[order]
    first = np.searchsorted(sorted_cls, sorted_cls, side="left")
    per_class = np.empty_like(cls)
    per_class[order] = np.arange(cls.size) - first + 1
    lut[slots] = cls * label_divisor + per_class
    return lut


def _stuff_lut(area, stuff_area, ignore_index):
    """Value pasted for each class on its uncovered pixels: the class, or ignore if too small."""
    classes = np.arange(area.size, dtype=np.int64)
    return np.where(area >= stuff_area, classes, np.int64(ignore_index))


def _merge_numpy(semantic, instance, label_divisor, things, stuff_area, ignore_index, thing=None):
    """numpy fusion of [H, W] maps; ``thing`` is an optional precomputed thing mask."""
    shape = semantic.shape
    sem = semantic.reshape(-1)
    ins = instance.reshape(-1)
    if sem.size and int(ins.min()) < 0:
        raise ValueError(f"instance must hold non-negative ids, found {int(ins.min())}")
    if thing is None:
        thing = thing_mask_numpy(sem, things)
    thing = thing.reshape(-1)
    n_cls = max(int(sem.max()) if sem.size else 0, things[-1] if things else 0) + 1
    panoptic = np.full(sem.size, ignore_index, dtype=np.int64)

    sel = np.flatnonzero(thing & (ins > 0))
    if sel.size:
        ids = ins[sel].astype(np.int64)
        if int(ids.max()) + 1 > _MAX_DIRECT_IDS:
            _, ids = np.unique(ids, return_inverse=True)  # ranks keep the ascending order
        slots = int(ids.max()) + 1
        counts = np.bincount(ids * n_cls + sem[sel], minlength=slots * n_cls)
        lut = _instance_lut(counts.reshape(slots, n_cls), label_divisor)
        panoptic[sel] = lut[ids]

    stuff = np.flatnonzero((ins == 0) & ~thing)
    if stuff.size:
        stuff_sem = sem[stuff]
        area = np.bincount(stuff_sem, minlength=n_cls)
        panoptic[stuff] = _stuff_lut(area, stuff_area, ignore_index)[stuff_sem]
    return panoptic.reshape(shape)


def _merge_paddle(semantic, instance, label_divisor, things, stuff_area, ignore_index, thing=None):
    """Device fusion of [H, W] tensors; only the small histograms visit the host."""
    shape = semantic.shape
    sem = semantic.flatten().astype("int64")
    ins = instance.flatten().astype("int64")
    if thing is None:
        thing = thing_mask_paddle(sem, things)
    thing = thing.flatten()
    n_cls = max(int(sem.max()), things[-1] if things else 0) + 1
    if int(sem.min()) < 0:
        raise ValueError(f"semantic must hold non-negative class ids, found {int(sem.min())}")
    if int(ins.min()) < 0:
        raise ValueError(f"instance must hold non-negative ids, found {int(ins.min())}")
    slots = int(ins.max()) + 1
    zero = paddle.zeros_like(sem)
    in_inst = paddle.logical_and(thing, ins > 0)
    # Pixels outside the thing masks fall into slot 0, which is never looked up.
    joint = paddle.where(in_inst, ins * n_cls + sem, zero)
    counts = paddle.bincount(joint, minlength=slots * n_cls).numpy()
    counts = counts.reshape(slots, n_cls)
    counts[0] = 0
    lut = paddle.to_tensor(_instance_lut(counts, label_divisor), place=sem.place)
    ignore = paddle.full_like(sem, ignore_index)
    panoptic = paddle.where(in_inst, paddle.gather(lut, ins), ignore)

    stuff = paddle.logical_and(ins == 0, paddle.logical_not(thing))
    area = paddle.bincount(paddle.where(stuff, sem, paddle.full_like(sem, n_cls)),
                           minlength=n_cls + 1).numpy()[:n_cls]
    stuff_lut = paddle.to_tensor(_stuff_lut(area, stuff_area, ignore_index), place=sem.place)
    panoptic = paddle.where(stuff, paddle.gather(stuff_lut, sem), panoptic)
    return panoptic.reshape(shape)


def merge_semantic_and_instance(semantic, instance, label_divisor, thing_list, stuff_area,
                                ignore_index):
    """Panoptic map from a semantic map and a class-agnostic instance map.

    Instance ids are visited in ascending order; an instance's mask is its pixels whose class is
    a thing class; its class is the most frequent class in the mask (the smallest on ties) and
    its id ``class * label_divisor + k``, with k = 1, 2, ... counted per class. Each stuff class
    (any class not in ``thing_list``) is pasted on its pixels that carry no instance (id 0) when
    they number at least ``stuff_area``. Every other pixel is ``ignore_index``.

    Args:
        semantic (np.ndarray | Tensor): [1, H, W] int class ids (non-negative).
        instance (np.ndarray | Tensor): [1, H, W] int instance ids, 0 = no instance.
        label_divisor (int): panoptic id = class * label_divisor + instance number.
        thing_list (list[int]): thing class ids.
        stuff_area (int): smallest area of a stuff class to keep it.
        ignore_index (int): value of unassigned pixels.

    Returns:
        np.ndarray | Tensor: [1, H, W] int64 panoptic ids, same kind as ``semantic``.
    """
    shape = _arrays.check_ndim(semantic, "semantic", 3, lead=1)
    ins_shape = _arrays.check_ndim(instance, "instance", 3, lead=1)
    if ins_shape != shape:
        raise ValueError(f"semantic {list(shape)} and instance {list(ins_shape)} must have the "
                         "same shape")
    things = _arrays.check_thing_list(thing_list)
    _check_args(label_divisor, stuff_area, ignore_index)
    if _arrays.on_device(semantic):
        if not _arrays.is_tensor(instance):
            instance = _arrays.to_tensor(instance, semantic)
        return _merge_paddle(semantic[0], instance[0], int(label_divisor), things, stuff_area,
                             int(ignore_index)).unsqueeze(0)
    sem = _arrays.to_numpy(semantic)[0].astype(np.int64, copy=False)
    if sem.size and int(sem.min()) < 0:
        raise ValueError(f"semantic must hold non-negative class ids, found {int(sem.min())}")
    panoptic = _merge_numpy(sem, _arrays.to_numpy(instance)[0], int(label_divisor), things,
                            stuff_area, int(ignore_index))[None]
    return _arrays.to_tensor(panoptic, semantic) if _arrays.is_tensor(semantic) else panoptic
