"""numpy / paddle: the one test of where an array lives and the one conversion each way.

Functions that accept numpy arrays or paddle Tensors dispatch on :func:`on_device`: numpy
inputs and paddle CPU tensors take the numpy implementation, tensors on an accelerator the
paddle one. Every conversion to numpy goes through :func:`to_numpy`.
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
    """Return ``x`` as a numpy array, read-only (None stays None).

    A paddle CPU Tensor is shared through DLPack (no copy: ``Tensor.numpy()`` copies, which
    costs more than the whole post-processing for a [19, 1024, 2048] input); other tensors
    are copied to host memory.
    """
    if x is None:
        return None
    if is_tensor(x):
        if x.place.is_cpu_place():
            try:
                return np.from_dlpack(x if _TENSOR_HAS_DLPACK else _Capsule(x))
            except (TypeError, RuntimeError, BufferError, ValueError):
                pass
        return x.numpy()
    return np.asarray(x)


# Paddle 2.x tensors have no ``__dlpack__`` method, only ``paddle.utils.dlpack.to_dlpack``.
_TENSOR_HAS_DLPACK = hasattr(paddle.Tensor, "__dlpack__")


class _Capsule:
    """A CPU Tensor's DLPack capsule in the form ``np.from_dlpack`` takes (Paddle 2.x)."""

    def __init__(self, tensor):
        self._capsule = paddle.utils.dlpack.to_dlpack(tensor)

    def __dlpack__(self, stream=None):
        return self._capsule

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU, device 0


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
            # A capsule rather than the array: Paddle 2.x takes nothing else.
            return paddle.utils.dlpack.from_dlpack(x.__dlpack__())
        except (TypeError, RuntimeError, BufferError, ValueError):
            pass
    return paddle.to_tensor(x, place=like.place)
