"""Exponential moving average of the model weights (``--use_ema``), PaddleSeg's rule.

The average starts as a copy of the model and after iteration ``i`` (1-based) becomes::

    ema = d * ema + (1 - d) * weights,   d = min(1 - 1 / (i + 1), 0.999)

for every floating-point entry of the state dict (BatchNorm running statistics included), so
for the first thousand iterations it is the plain mean of the initial weights and the weights
after each iteration so far. Training evaluates the average (not the raw weights) and keeps it
in ``best_model/``; checkpoints hold it as ``iter_N/ema_model.pdparams`` (PaddleSeg's name),
from which a resumed run continues it exactly.
"""
import copy

from paddleseg.utils.ema import init_ema_params, update_ema_model

__all__ = ["EMA_FILE", "ModelEMA"]

EMA_FILE = "ema_model.pdparams"


class ModelEMA:
    """The averaged copy of a model.

    Args:
        model (paddle.nn.Layer): the plain model (not a parallel wrapper); the average starts
            from its current weights.
    """

    def __init__(self, model):
        self.model = copy.deepcopy(model)
        self.model.eval()
        for param in self.model.parameters():
            param.stop_gradient = True
        init_ema_params(self.model, model)

    def update(self, model, iteration):
        """Fold ``model``'s weights after iteration ``iteration`` (1-based) into the average."""
        update_ema_model(self.model, model, step=iteration)

    def state_dict(self):
        return self.model.state_dict()

    def set_state_dict(self, state, source):
        """Restore an average saved by :meth:`state_dict`.

        Raises:
            ValueError: ``state`` does not hold exactly this model's entries (names ``source``).
        """
        own = self.model.state_dict()
        if set(state) != set(own) or any(list(state[k].shape) != list(own[k].shape)
                                          for k in own):
            raise ValueError("{} does not hold this model's averaged weights".format(source))
        self.model.set_state_dict(state)
