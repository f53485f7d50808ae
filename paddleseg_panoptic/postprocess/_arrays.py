"""Small helpers shared by the post-processing modules: numpy / paddle dispatch and checks.

Every public post-processing function accepts numpy arrays or paddle Tensors and returns the
same kind. numpy inputs and paddle CPU tensors run the numpy implementations (on a CPU they are
the fastest exact ones); tensors on an accelerator run paddle implementations that stay on the
device.
"""
import numpy as np

from paddleseg_panoptic.utils.arrays import (  # noqa: F401  (the dispatch, used as _arrays.*)
    is_tensor, on_device, to_numpy, to_tensor)

# Alignment of large output arrays: the size of a transparent huge page on x86-64 and arm64.
_HUGE_PAGE = 2 << 20
# Arrays at least this large are aligned (numpy asks the kernel for huge pages from 4 MiB).
_ALIGN_FROM = 4 << 20


def check_ndim(x, name, ndim, lead=None):
    """Raise ValueError unless ``x`` has ``ndim`` axes (and first axis ``lead`` if given).

    Returns the shape as a tuple of ints.
    """
    shape = tuple(int(s) for s in x.shape)
    if len(shape) != ndim or (lead is not None and shape[0] != lead):
        want = f"[{lead}, H, W]" if lead is not None else f"{ndim}-D"
        raise ValueError(f"{name} must have shape {want}, got {list(shape)}")
    return shape


def check_centers(ctr, name="ctr"):
    """Validate a centre list of shape [K, 2] and return its shape."""
    shape = tuple(int(s) for s in ctr.shape)
    if len(shape) != 2 or shape[1] != 2:
        raise ValueError(f"{name} must have shape [K, 2] (y, x), got {list(shape)}")
    return shape


def check_thing_list(thing_list):
    """Return ``thing_list`` as a sorted list of non-negative ints, or raise ValueError."""
    if thing_list is None:
        raise ValueError("thing_list must be a list of class ids, got None")
    try:
        things = sorted({int(c) for c in thing_list})
    except (TypeError, ValueError) as err:
        raise ValueError(f"thing_list must be a list of int class ids, got {thing_list!r}") from err
    if things and things[0] < 0:
        raise ValueError(f"thing_list must hold non-negative class ids, got {thing_list!r}")
    return things


def id_bound(x, name):
    """1 + the largest value of a non-negative integer array, in a single scan.

    Viewing signed integers as unsigned makes every negative value larger than any valid one,
    so one ``max`` both sizes lookup tables and detects negative ids.

    Raises:
        ValueError: ``x`` is not an integer array or holds a negative value.
    """
    if x.size == 0:
        return 0
    kind = x.dtype.kind
    if kind == "b":
        return 2
    if kind == "u":
        return int(x.max()) + 1
    if kind != "i":
        raise ValueError(f"{name} must be an integer array, got dtype {x.dtype}")
    top = int(x.view(np.dtype(f"u{x.dtype.itemsize}")).max())
    if top >= 2 ** (8 * x.dtype.itemsize - 1):
        raise ValueError(f"{name} must hold non-negative ids, found {int(x.min())}")
    return top + 1


def empty_aligned(size, dtype):
    """Uninitialised 1-D array of ``size`` elements whose data starts on a 2 MiB boundary.

    A fresh full-resolution map (16 MiB of int64 at 1024x2048) otherwise costs one page fault
    per 4 KiB page when it is first written, about as long as the computation that fills it.
    numpy marks large allocations as eligible for transparent huge pages, but the kernel can
    only use them on 2 MiB-aligned ranges, so the array is cut out of a buffer 2 MiB larger at
    the first aligned address: it then faults in 2 MiB at a time where the system allows. The
    array is an ordinary contiguous (writeable) view that keeps its buffer alive.
    """
    dtype = np.dtype(dtype)
    nbytes = int(size) * dtype.itemsize
    if nbytes < _ALIGN_FROM:
        return np.empty(size, dtype=dtype)
    raw = np.empty(nbytes + _HUGE_PAGE, dtype=np.uint8)
    start = -raw.ctypes.data % _HUGE_PAGE
    return raw[start:start + nbytes].view(dtype)


def zeros_aligned(size, dtype):
    """Like :func:`empty_aligned`, filled with zeros."""
    out = empty_aligned(size, dtype)
    out.fill(0)
    return out
