"""Small helpers for data-parallel runs started by ``python -m paddle.distributed.launch``.

Every helper also works in a plain single-process run (world size 1), where they do nothing
collective.
"""
import paddle
import paddle.distributed as dist

__all__ = ["get_rank", "get_world_size", "init_distributed", "barrier",
           "broadcast_buffers", "all_reduce_max", "failures_of_all_ranks", "describe_failures",
           "unwrap_model"]

_INITIALISED = False


def get_rank():
    """Global rank of this process (0 when not launched in parallel)."""
    return dist.get_rank()


def get_world_size():
    """Number of launched processes (1 when not launched in parallel)."""
    return dist.get_world_size()


def init_distributed():
    """Initialise the parallel environment once when more than one process was launched.

    The backend is chosen by paddle from the device: NCCL on GPUs, gloo on CPU.

    Returns:
        int: the world size.
    """
    global _INITIALISED
    world = get_world_size()
    if world > 1 and not (_INITIALISED or dist.is_initialized()):
        dist.init_parallel_env()
        _INITIALISED = True
    return world


def barrier():
    if get_world_size() > 1:
        dist.barrier()


def unwrap_model(model):
    """The plain layer inside a ``paddle.DataParallel`` wrapper (or the model itself)."""
    return model._layers if isinstance(model, paddle.DataParallel) else model


def broadcast_buffers(model, src=0):
    """Copy rank ``src``'s non-trainable state to every rank: buffers and non-trainable
    parameters (Paddle keeps BatchNorm's running mean / variance as the latter).

    Without SyncBatchNorm (CPU runs) each process updates its running statistics from its own
    shard of the data, so they drift apart; broadcasting before a checkpoint makes every rank
    hold, and evaluate with, exactly what rank 0 saves.
    """
    if get_world_size() <= 1:
        return
    layer = unwrap_model(model)
    tensors = [p for p in layer.parameters() if not p.trainable] + list(layer.buffers())
    for tensor in tensors:
        if tensor is not None and tensor.dtype != paddle.bool:
            dist.broadcast(tensor, src=src)


def all_reduce_max(value):
    """Maximum of a Python float over all ranks (the value itself in single-process runs)."""
    if get_world_size() <= 1:
        return float(value)
    tensor = paddle.to_tensor([float(value)], dtype="float32")
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor[0])


def failures_of_all_ranks(message):
    """``[(rank, message)]`` of every process whose ``message`` is not None; every process
    calls it at the same point and gets the same list.

    With one process there is no communication; with several, an all-reduce of a flag and,
    only when some process failed, an all-gather of the messages. A loop that checks this at
    each step stops on every process together instead of leaving the others waiting in a
    collective until it times out.
    """
    if get_world_size() <= 1:
        return [(0, message)] if message is not None else []
    if all_reduce_max(0.0 if message is None else 1.0) == 0:
        return []
    gathered = []
    dist.all_gather_object(gathered, message)
    return [(rank, text) for rank, text in enumerate(gathered) if text is not None]


def describe_failures(failures):
    """The messages of :func:`failures_of_all_ranks`, prefixed by their process when several
    processes run."""
    if get_world_size() <= 1:
        return "; ".join(text for _, text in failures)
    return "; ".join("process {}: {}".format(rank, text) for rank, text in failures)
