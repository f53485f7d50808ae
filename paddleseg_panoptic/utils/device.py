"""Choosing the device for the tools: ``auto``, ``cpu`` or ``gpu``.

Under ``python -m paddle.distributed.launch`` each process takes the GPU the launcher assigned
to it, so one function serves training, evaluation and prediction alike.
"""
import paddle

__all__ = ["DEVICES", "set_device", "accelerator_info"]

DEVICES = ("auto", "cpu", "gpu")


def set_device(device="auto"):
    """Select ``cpu``, ``gpu`` or ``auto`` (gpu when Paddle has CUDA and sees a GPU).

    Args:
        device (str): one of :data:`DEVICES`.

    Returns:
        str: the device set, e.g. ``'cpu'`` or ``'gpu:1'``.

    Raises:
        ValueError: an unknown ``device``, or ``'gpu'`` without a usable GPU.
    """
    if device not in DEVICES:
        raise ValueError("--device must be auto, cpu or gpu, got {!r}".format(device))
    has_gpu = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    if device == "gpu" and not has_gpu:
        raise ValueError("--device gpu: this Paddle build has no CUDA or sees no GPU")
    if device == "cpu" or (device == "auto" and not has_gpu):
        paddle.set_device("cpu")
    elif paddle.distributed.get_world_size() > 1:
        # The launcher gives every process its own card.
        paddle.set_device("gpu:{}".format(paddle.distributed.ParallelEnv().device_id))
    else:
        paddle.set_device("gpu")
    return paddle.get_device()


def accelerator_info():
    """The CUDA and cuDNN versions of the Paddle build and the names of the GPUs it sees.

    Returns:
        dict: ``{'cuda_version': '12.3', 'cudnn_version': '9.0.0', 'gpus': ['NVIDIA H100 ...']}``
        for a CUDA build (``gpus`` is empty when none is visible); ``{}`` for a CPU build.
    """
    if not paddle.device.is_compiled_with_cuda():
        return {}
    count = paddle.device.cuda.device_count()
    return {"cuda_version": str(paddle.version.cuda()),
            "cudnn_version": str(paddle.version.cudnn()),
            "gpus": [paddle.device.cuda.get_device_name(i) for i in range(count)]}
