"""Mixed-precision training (``--precision fp32|fp16|bf16``, ``--amp_level O1|O2``).

PaddleSeg's recipe: the forward pass runs under ``paddle.amp.auto_cast`` (``elementwise_add``
and batch norm allowed in low precision, bilinear interpolation kept in float32); fp16 scales
the loss with a dynamic ``GradScaler`` (initial scale 1024) and skips the steps whose gradients
overflow; bf16 needs no scaling. ``O2`` also casts the weights to the low precision (the
optimizer keeps float32 master weights; checkpoints are saved in float32). The losses are
computed in float32 on the float32-cast outputs.

Paddle's ``auto_cast`` works on GPUs (and XPU / custom devices), not on CPUs, where it would
silently train in float32: asking for fp16 or bf16 there is an error, as is bf16 on a GPU
without bfloat16 support.
"""
import contextlib

import numpy as np
import paddle

__all__ = ["PRECISIONS", "AMP_LEVELS", "MixedPrecision", "check_precision"]

PRECISIONS = ("fp32", "fp16", "bf16")
AMP_LEVELS = ("O1", "O2")
_DTYPES = {"fp16": "float16", "bf16": "bfloat16"}
_WHITE_LIST = {"elementwise_add", "batch_norm", "sync_batch_norm"}
_BLACK_LIST = {"bilinear_interp_v2"}


def check_precision(precision, amp_level="O1", device=None):
    """Raise ``ValueError`` when ``precision`` / ``amp_level`` are unknown or ``device``
    (default: Paddle's current one, e.g. ``'cpu'``, ``'gpu:0'``) cannot run them."""
    if precision not in PRECISIONS:
        raise ValueError("--precision must be one of {}, got {!r}".format(
            "|".join(PRECISIONS), precision))
    if amp_level not in AMP_LEVELS:
        raise ValueError("--amp_level must be O1 or O2, got {!r}".format(amp_level))
    if precision == "fp32":
        return
    device = device or paddle.get_device()
    if device.split(":")[0] == "cpu":
        raise ValueError(
            "--precision {} needs a GPU: Paddle's automatic mixed precision does not run on "
            "the CPU (it would silently train in fp32); use --precision fp32".format(precision))
    supported = getattr(paddle.amp, "is_{}_supported".format(_DTYPES[precision]), None)
    if supported is not None and not supported():
        raise ValueError("--precision {}: this device ({}) does not support {} in Paddle's "
                         "automatic mixed precision{}".format(
                             precision, device, _DTYPES[precision],
                             " (bfloat16 needs an NVIDIA GPU of compute capability 8.0 or "
                             "newer)" if precision == "bf16" else ""))


class MixedPrecision:
    """The precision of one training run.

    Args:
        precision (str): ``fp32`` (no mixed precision), ``fp16`` or ``bf16``.
        amp_level (str): ``O1`` (low-precision operators, float32 weights) or ``O2``.

    Raises:
        ValueError: see :func:`check_precision`.
    """

    def __init__(self, precision="fp32", amp_level="O1"):
        check_precision(precision, amp_level)
        self.precision, self.amp_level = precision, amp_level
        self.enabled = precision != "fp32"
        self.scaler = paddle.amp.GradScaler(init_loss_scaling=1024) \
            if precision == "fp16" else None

    def decorate(self, model, optimizer):
        """With ``O2``: cast ``model`` to the low precision, with float32 master weights in
        ``optimizer``. Call before loading a checkpoint and before any parallel wrapper."""
        if self.enabled and self.amp_level == "O2":
            return paddle.amp.decorate(models=model, optimizers=optimizer, level="O2",
                                       dtype=_DTYPES[self.precision], save_dtype="float32")
        return model, optimizer

    def auto_cast(self):
        """Context for the forward pass (does nothing in fp32)."""
        if not self.enabled:
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(enable=True, level=self.amp_level,
                                    dtype=_DTYPES[self.precision],
                                    custom_white_list=_WHITE_LIST,
                                    custom_black_list=_BLACK_LIST)

    def forward(self, model, images):
        """``model(images)`` under :meth:`auto_cast`, the outputs cast to float32."""
        with self.auto_cast():
            outputs = model(images)
        if not self.enabled:
            return outputs
        return [o.astype("float32") for o in outputs]

    def backward_and_step(self, loss, optimizer):
        """Backward pass and optimizer step, through the loss scaler for fp16."""
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        scaled = self.scaler.scale(loss)
        scaled.backward()
        self.scaler.minimize(optimizer, scaled)

    def for_inference(self, model):
        """What evaluation calls: ``model`` itself, or with ``O2`` (low-precision weights) a
        callable running it under :meth:`auto_cast` with float32 outputs."""
        if self.enabled and self.amp_level == "O2":
            return _AutoCastModel(model, self)
        return model

    def state_dict(self):
        """The loss scaler's state (JSON-serialisable), or None without a scaler."""
        if self.scaler is None:
            return None
        return {k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
                for k, v in self.scaler.state_dict().items()}

    def set_state_dict(self, state):
        """Restore :meth:`state_dict`'s result (None or a run without a scaler: nothing)."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


class _AutoCastModel:
    """Just enough of a ``paddle.nn.Layer`` for the evaluation loop: call, train / eval."""

    def __init__(self, model, precision):
        self.model, self.precision = model, precision

    @property
    def training(self):
        return self.model.training

    def train(self):
        self.model.train()

    def eval(self):
        self.model.eval()

    def __call__(self, images):
        return self.precision.forward(self.model, images)
