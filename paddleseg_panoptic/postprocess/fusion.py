"""Fusion of the semantic and instance maps into a panoptic map (docs/postprocess.md, step 4).

Instead of one whole-image mask per instance and per stuff class, a single joint histogram of
(instance id, class) over all pixels gives every instance's majority class (its thing-class
columns) and every stuff class's uncovered area (row 0). A small table indexed by
(instance id, class) then holds every pixel's panoptic id. On the CPU both are computed once
per run of equal (class, id) pairs along the image rows (maps are made of long runs), or once
per pixel for noisy maps.
"""
import numbers

import numpy as np
import paddle

from . import _arrays, _limits

__all__ = ["merge_semantic_and_instance"]



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


def _panoptic_table(counts, things, label_divisor, stuff_area, ignore_index):
    """[slots, classes] table of the panoptic id of a pixel with (instance slot, class).

    ``counts`` is the joint histogram of (instance slot, class) over all pixels; slot 0 means
    no instance. Thing classes under an instance slot get the instance's id; stuff classes under
    slot 0 get the class when its uncovered area reaches ``stuff_area``; every other
    combination (a thing pixel without instance, a stuff pixel under an instance) is ignored.
    """
    slots, n_cls = counts.shape
    is_thing = np.zeros(n_cls, dtype=bool)
    is_thing[things] = True
    table = np.full((slots, n_cls), ignore_index, dtype=np.int64)
    thing_counts = counts * is_thing[None, :]
    thing_counts[0] = 0
    table[:, is_thing] = _instance_lut(thing_counts, label_divisor)[:, None]
    table[0, is_thing] = ignore_index
    stuff = ~is_thing & (counts[0] >= stuff_area)
    table[0, stuff] = np.flatnonzero(stuff)
    return table


def _runs(sem, ins):
    """(starts, lengths) of the runs of equal (class, id) pairs along the flat maps.

    Maps hold long runs, and every pixel of a run shares its histogram key and panoptic id,
    so the work per pixel reduces to finding the runs. Returns None when the mean run is
    shorter than ``_limits.MIN_MEAN_RUN`` pixels (noisy maps), where pixels are cheaper to count.
    """
    change = np.not_equal(sem[1:], sem[:-1])
    change |= np.not_equal(ins[1:], ins[:-1])
    if np.count_nonzero(change) + 1 > sem.size // _limits.MIN_MEAN_RUN:
        return None
    starts = np.flatnonzero(change)
    starts += 1
    starts = np.concatenate([np.zeros(1, dtype=starts.dtype), starts])
    return starts, np.diff(starts, append=sem.size)


def _sizes(sem, ins, num_classes, num_ids, things):
    """(class count, int64 ids, id slots) of flat maps, checked unless the counts are given.

    Ids beyond the direct-table limit are replaced by their ranks (ascending order kept, 0
    stays 0).
    """
    if num_classes is None:
        num_classes = _arrays.id_bound(sem, "semantic")
    if num_ids is None:
        num_ids = _arrays.id_bound(ins, "instance")
    ins = ins.astype(np.int64, copy=False)
    if num_ids > _limits.MAX_DIRECT_IDS:
        uniq, ins = np.unique(ins, return_inverse=True)
        ins = ins.reshape(-1) + (1 if uniq[0] != 0 else 0)
        num_ids = int(ins.max()) + 1
    return max(num_classes, things[-1] + 1 if things else 1), ins, num_ids


def _merge_numpy(semantic, instance, label_divisor, things, stuff_area, ignore_index,
                 num_classes=None, num_ids=None):
    """numpy fusion of two [H, W] maps of non-negative integer ids.

    ``num_classes`` (> every class id) and ``num_ids`` (> every instance id) may be given when
    the caller knows them, which saves checking the ids.
    """
    shape = semantic.shape
    if semantic.size == 0:
        return np.full(shape, ignore_index, dtype=np.int64)
    sem, ins = semantic.reshape(-1), instance.reshape(-1)
    runs = _runs(sem, ins)
    if runs is not None:
        # One histogram entry, weighted by its length, and one look-up per run; the ids are
        # checked on the runs' values, which are all the maps' values.
        starts, lengths = runs
        n_cls, ins_r, slots = _sizes(sem[starts], ins[starts], num_classes, num_ids, things)
        key = ins_r * n_cls + sem[starts]
        counts = np.bincount(key, weights=lengths, minlength=slots * n_cls).astype(np.int64)
        table = _panoptic_table(counts.reshape(slots, n_cls), things, label_divisor,
                                stuff_area, ignore_index)
        return np.repeat(table.reshape(-1)[key], lengths).reshape(shape)
    n_cls, ins, slots = _sizes(sem, ins, num_classes, num_ids, things)
    size = slots * n_cls
    # The key of a pixel is (id slot, class). bincount's increments of one counter would
    # wait on each other along runs of one key, so odd pixels count into a second copy of
    # the histogram (key + size), which roughly halves its cost.
    key = ins * n_cls
    key += sem
    key[1::2] += size
    counts = np.bincount(key, minlength=2 * size)
    table = _panoptic_table((counts[:size] + counts[size:]).reshape(slots, n_cls), things,
                            label_divisor, stuff_area, ignore_index)
    # 'wrap' (unlike the default 'raise') does not buffer, and folds the odd pixels' keys
    # back into range.
    out = _arrays.empty_aligned(ins.size, np.int64)
    np.take(table.reshape(-1), key, out=out, mode="wrap")
    return out.reshape(shape)


def _merge_paddle(semantic, instance, label_divisor, things, stuff_area, ignore_index):
    """Device fusion of two [H, W] tensors; only the small histogram visits the host."""
    shape = semantic.shape
    sem = semantic.flatten().astype("int64")
    ins = instance.flatten().astype("int64")
    if int(ins.min()) < 0:
        raise ValueError(f"instance must hold non-negative ids, found {int(ins.min())}")
    n_cls = max(int(sem.max()), things[-1] if things else 0) + 1
    slots = int(ins.max()) + 1
    key = ins * n_cls + sem
    counts = paddle.bincount(key, minlength=slots * n_cls).numpy().reshape(slots, n_cls)
    table = _panoptic_table(counts, things, label_divisor, stuff_area, ignore_index)
    table = paddle.to_tensor(table.reshape(-1), place=sem.place)
    return paddle.gather(table, key).reshape(shape)


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
        sem = semantic[0].astype("int64")
        if int(sem.min()) < 0:
            raise ValueError(f"semantic must hold non-negative class ids, found {int(sem.min())}")
        return _merge_paddle(sem, instance[0], int(label_divisor), things, stuff_area,
                             int(ignore_index)).unsqueeze(0)
    panoptic = _merge_numpy(_arrays.to_numpy(semantic)[0], _arrays.to_numpy(instance)[0],
                            int(label_divisor), things, stuff_area, int(ignore_index))[None]
    return _arrays.to_tensor(panoptic, semantic) if _arrays.is_tensor(semantic) else panoptic
