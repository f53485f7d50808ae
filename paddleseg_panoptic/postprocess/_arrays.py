"""Small helpers shared by the post-processing modules: numpy / paddle dispatch and checks.

Every public post-processing function accepts numpy arrays or paddle Tensors and returns the
same kind. numpy inputs and paddle CPU tensors run the numpy implementations (on a CPU they are
the fastest exact ones); tensors on an accelerator run paddle implementations that stay on the
device.
"""
import numpy as np
import paddle


def is_tensor(x):
    """Whether ``x`` is a paddle Tensor."""
    return isinstance(x, paddle.Tensor)


def on_device(x):
    """Whether ``x`` is a paddle Tensor that lives on an accelerator (not the CPU)."""
    return is_tensor(x) and not x.place.is_cpu_place()


def to_numpy(x):
    """Return ``x`` as a numpy array, read-only.

    A paddle CPU Tensor is shared through DLPack (no copy: ``Tensor.numpy()`` copies, which
    costs more than the whole post-processing for a [19, 1024, 2048] input); other tensors
    are copied to host memory.
    """
    if is_tensor(x):
        if x.place.is_cpu_place():
            try:
                return np.from_dlpack(x)
            except (TypeError, RuntimeError, BufferError, ValueError):
                pass
        return x.numpy()
    return np.asarray(x)


def to_tensor(x, like):
    """Return numpy array ``x`` as a paddle Tensor on the same place as Tensor ``like``.

    On the CPU the Tensor shares ``x``'s memory through DLPack (``x`` must not be modified
    afterwards: the post-processing only hands over arrays it created).
    """
    if x is None:
        return None
    x = np.ascontiguousarray(x)
    if like.place.is_cpu_place():
        try:
            return paddle.utils.dlpack.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError, ValueError):
            pass
    return paddle.to_tensor(x, place=like.place)


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
