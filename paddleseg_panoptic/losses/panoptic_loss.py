"""The Panoptic-DeepLab training loss: weighted semantic, center and offset terms.

The three configured losses (``loss.types`` in the config, in model output order) supply the
element-wise terms; this module applies the per-pixel weights and the normalisation of the
reference and multiplies by ``loss.coef``:

- semantic: ``CrossEntropyLoss(top_k_percent_pixels=0.2)`` called with ``semantic_weights``
  (its hard-pixel mining already takes the k largest weighted values over the whole batch).
- center: element-wise MSE ``[N, 1, H, W]`` times ``center_weights``, divided by the sum of the
  weights (0 when the weighted sum is not positive).
- offset: element-wise L1 ``[N, 2, H, W]`` times ``offset_weights`` broadcast over both
  channels, divided by the sum of the broadcast weights (0 when that sum is not positive).

paddleseg's ``L1Loss`` masks targets equal to its ``ignore_index`` (255). An offset of exactly
255 pixels is a real regression target, not an ignore label, so the offset term always uses a
plain ``|pred - target|``.
"""
import paddle
import paddle.nn.functional as F
from paddleseg.cvlibs import manager as seg_manager
from paddleseg.models.losses import L1Loss as SegL1Loss

__all__ = ["PanopticLoss", "weighted_center_loss", "weighted_offset_loss", "build_panoptic_loss"]

LOSS_KEYS = ("semantic", "center", "offset")


def _weighted_mean(elementwise, weights):
    """``sum(elementwise * weights) / sum(weights)``, or 0 when the weighted sum is not positive.

    Args:
        elementwise (Tensor): float32 loss values, any shape.
        weights (Tensor): float32, same shape as ``elementwise`` (already broadcast).

    Returns:
        Tensor: 0-D float32.
    """
    weighted = elementwise * weights
    weight_sum = weights.sum()
    total = weighted.sum()
    # Branch on the host: the reference returns an exact 0 (no gradient) when nothing is
    # weighted, e.g. a crop without any instance.
    if float(total) > 0:
        return total / weight_sum
    return total * 0.0


def weighted_center_loss(elementwise, center_weights):
    """Center heatmap loss.

    Args:
        elementwise (Tensor): [N, 1, H, W] element-wise squared error.
        center_weights (Tensor): [N, H, W] float32.

    Returns:
        Tensor: 0-D float32, ``sum(mse * w) / sum(w)`` if the weighted sum is positive, else 0.
    """
    weights = center_weights.astype(elementwise.dtype).unsqueeze(1)
    weights = paddle.expand_as(weights, elementwise)
    return _weighted_mean(elementwise, weights)


def weighted_offset_loss(elementwise, offset_weights):
    """Offset regression loss.

    Args:
        elementwise (Tensor): [N, 2, H, W] element-wise absolute error, (dy, dx).
        offset_weights (Tensor): [N, H, W] float32, broadcast over both channels.

    Returns:
        Tensor: 0-D float32, ``sum(l1 * w) / sum(w broadcast to 2 channels)`` if the weighted
        sum is positive, else 0.
    """
    weights = offset_weights.astype(elementwise.dtype).unsqueeze(1)
    weights = paddle.expand_as(weights, elementwise)
    return _weighted_mean(elementwise, weights)


def _build_one(spec):
    if isinstance(spec, dict):
        spec = dict(spec)
        if "type" not in spec:
            raise KeyError("Each entry of loss.types needs a 'type' key, got {}".format(spec))
        name = spec.pop("type")
        if name not in seg_manager.LOSSES.components_dict:
            raise KeyError("loss.types: unknown loss type '{}'".format(name))
        return seg_manager.LOSSES[name](**spec)
    return spec


class PanopticLoss(paddle.nn.Layer):
    """Weighted sum of the semantic, center and offset losses.

    Args:
        losses (list): three loss layers (or ``{'type': ..., ...}`` mappings) in output order:
            semantic (called as ``loss(logit, label, semantic_weights)``), center and offset
            (both element-wise, i.e. ``reduction='none'``).
        coef (list[float]): three multipliers, reference ``[1, 200, 0.001]``.

    Call with the model outputs ``[semantic [N, C, H, W], center [N, 1, H, W],
    offset [N, 2, H, W]]`` and a batch dict holding ``semantic [N, H, W] int64``,
    ``semantic_weights [N, H, W]``, ``center [N, 1, H, W]``, ``center_weights [N, H, W]``,
    ``offset [N, 2, H, W]``, ``offset_weights [N, H, W]``. Returns a dict of 0-D float32 tensors
    ``{'semantic', 'center', 'offset', 'total'}``; the parts already include their coef.
    """

    def __init__(self, losses, coef):
        super().__init__()
        losses = [_build_one(loss) for loss in losses]
        if len(losses) != 3 or len(coef) != 3:
            raise ValueError(
                "loss.types and loss.coef must each have 3 entries (semantic, center, offset), "
                "got {} types and {} coef".format(len(losses), len(coef)))
        for name, loss in zip(("center", "offset"), losses[1:]):
            reduction = getattr(loss, "reduction", "none")
            if reduction != "none":
                raise ValueError(
                    "The {} loss ({}) must be element-wise: set reduction: none in loss.types "
                    "(got '{}')".format(name, type(loss).__name__, reduction))
        self.semantic_loss, self.center_loss, self.offset_loss = losses
        self.coef = [float(c) for c in coef]

    def _offset_elementwise(self, pred, target):
        if isinstance(self.offset_loss, SegL1Loss):
            # Plain L1: paddleseg's L1Loss would drop targets equal to 255 (see module doc).
            return F.l1_loss(pred, target, reduction="none")
        return self.offset_loss(pred, target)

    def forward(self, outputs, batch):
        semantic_pred, center_pred, offset_pred = outputs
        semantic = self.semantic_loss(
            semantic_pred, batch["semantic"], batch["semantic_weights"].astype("float32"))
        center = weighted_center_loss(
            self.center_loss(center_pred, batch["center"]), batch["center_weights"])
        offset = weighted_offset_loss(
            self._offset_elementwise(offset_pred, batch["offset"]), batch["offset_weights"])
        parts = {
            "semantic": semantic * self.coef[0],
            "center": center * self.coef[1],
            "offset": offset * self.coef[2],
        }
        parts["total"] = parts["semantic"] + parts["center"] + parts["offset"]
        return parts


def build_panoptic_loss(loss_cfg):
    """Build :class:`PanopticLoss` from the config's ``loss`` mapping.

    Args:
        loss_cfg (dict): ``{'types': [three loss layers or {'type': ...} mappings],
            'coef': [three floats]}``.

    Raises:
        KeyError: when ``types`` or ``coef`` is missing.
    """
    if isinstance(loss_cfg, PanopticLoss):
        return loss_cfg
    for key in ("types", "coef"):
        if key not in loss_cfg:
            raise KeyError("The config's 'loss' needs a '{}' key".format(key))
    return PanopticLoss(loss_cfg["types"], loss_cfg["coef"])
