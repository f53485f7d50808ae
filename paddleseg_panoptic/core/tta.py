"""Test-time augmentation (TTA): the network run at several scales and mirrored, its outputs
brought back to the input's size and orientation and averaged.

Per pass (scale ``s``, mirrored or not) the padded input ``[N, 3, H, W]`` is resized
(bilinear) to the network size nearest to ``(s H, s W)`` (multiples of 32, plus one with
``align_corners``; unchanged at scale 1), mirrored left-right if asked, and
run; its outputs are mirrored back and resized (bilinear) to ``(H, W)``:

- semantic: the logits are resized, then turned into probabilities (softmax over classes);
- centre heatmap: resized;
- offsets: resized and multiplied by the size ratio of their axis (``(H - 1) / (h - 1)`` with
  ``align_corners``, else ``H / h``; about ``1 / s``), so that they count input pixels; a
  mirrored pass negates ``dx`` after mirroring the map back.

The probabilities, heatmaps and offsets of all passes are averaged, and post-processing then
runs once on the averages (``panoptic_postprocess(..., probabilities=True)``). One pass at
scale 1.0 without mirroring is the plain prediction: the network's logits go to
post-processing as they are, so the outputs are byte-identical to prediction without TTA.
"""
import dataclasses

import paddle
import paddle.nn.functional as F
from paddleseg.utils import logger

from paddleseg_panoptic.transforms.padding import SIZE_DIVISOR

__all__ = ["TTA", "network_outputs"]

# `test_config` keys of PaddleSeg configs and what they may hold here.
_OFF_ONLY_KEYS = ("flip_vertical", "is_slide")
_IGNORED_KEYS = ("crop_size", "stride")


@dataclasses.dataclass(frozen=True)
class TTA:
    """Test-time augmentation settings.

    Attributes:
        scales (tuple[float]): input scales, each > 0.
        flip_horizontal (bool): also run every scale on the mirrored input.
    """
    scales: tuple = (1.0,)
    flip_horizontal: bool = False

    def __post_init__(self):
        try:
            scales = tuple(float(s) for s in self.scales)
        except (TypeError, ValueError):
            raise ValueError("TTA scales must be a list of numbers, got {!r}".format(
                self.scales)) from None
        if not scales or any(not s > 0 for s in scales):
            raise ValueError("TTA scales must be a non-empty list of positive numbers, "
                             "got {!r}".format(self.scales))
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "flip_horizontal", bool(self.flip_horizontal))

    @property
    def passes(self):
        """list[tuple[float, bool]]: (scale, mirrored) of every network run, in order."""
        flips = (False, True) if self.flip_horizontal else (False,)
        return [(s, f) for s in self.scales for f in flips]

    @property
    def is_plain(self):
        """True for one pass at scale 1.0 without mirroring (no augmentation)."""
        return self.passes == [(1.0, False)]

    def describe(self):
        """dict: ``scales`` and ``flip_horizontal``, for logs and result files."""
        return {"scales": list(self.scales), "flip_horizontal": self.flip_horizontal}

    @classmethod
    def resolve(cls, test_config=None, enable=False, scales=None, flip_horizontal=None,
                enable_key="aug_eval", source="config"):
        """The settings of one run, from the config's ``test_config`` and the command line.

        TTA is on when ``enable`` (``--aug_eval`` / ``--aug_pred``) or the config's
        ``test_config.<enable_key>`` is true; ``scales`` / ``flip_horizontal`` given on the
        command line replace the config's. Off, the result is the plain setting.

        Args:
            test_config (dict | None): the config's ``test_config`` section.
            enable_key (str): the key turning TTA on in ``test_config`` (``aug_eval`` for
                evaluation, ``aug_pred`` for prediction; either is accepted in both).
            source (str): where ``test_config`` came from, for error messages.

        Raises:
            ValueError: an unknown key, a feature this package lacks (``flip_vertical``,
                ``is_slide``) set true, or bad scales; the message names the key.
        """
        if not isinstance(test_config or {}, dict):
            raise ValueError("{}: test_config must be a mapping, got {!r}".format(
                source, test_config))
        section = dict(test_config or {})
        known = ("aug_eval", "aug_pred", "scales", "flip_horizontal") + _OFF_ONLY_KEYS \
            + _IGNORED_KEYS
        unknown = sorted(k for k in section if k not in known)
        if unknown:
            raise ValueError("{}: unknown test_config key(s) {}; known: {}".format(
                source, unknown, list(known)))
        for key in _OFF_ONLY_KEYS:
            if section.get(key):
                raise ValueError("{}: test_config.{} is not supported (only scales and "
                                 "flip_horizontal); set it to false".format(source, key))
        on = bool(enable) or bool(section.get(enable_key))
        if not on:
            if scales is not None or flip_horizontal:
                logger.warning("--scales / --flip_horizontal are ignored: test-time "
                               "augmentation is off (turn it on with --{0} or the config's "
                               "test_config.{0}: true)".format(enable_key))
            return cls()
        if scales is None:
            scales = section.get("scales", 1.0)
        if isinstance(scales, (int, float)):
            scales = [scales]
        if flip_horizontal is None:
            flip_horizontal = section.get("flip_horizontal", False)
        try:
            tta = cls(tuple(scales), flip_horizontal)
        except (TypeError, ValueError) as e:
            raise ValueError("{}: test_config.scales / --scales: {}".format(source, e)) from None
        logger.info("Test-time augmentation: scales {}, flip_horizontal {}".format(
            list(tta.scales), tta.flip_horizontal))
        return tta


def _network_size(size, scale, align_corners):
    """``size`` at scale 1 (the input is one the network handles); else the size nearest to
    ``size * scale`` that the network handles (k * 32 + 1 with ``align_corners``, else
    k * 32; k >= 1)."""
    if scale == 1.0:
        return size

    extra = 1 if align_corners else 0
    k = max(1, int(round((size * scale - extra) / SIZE_DIVISOR)))
    return k * SIZE_DIVISOR + extra


def _resize(x, size, align_corners):
    if tuple(int(s) for s in x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=list(size), mode="bilinear", align_corners=align_corners)


def _ratio(size, scaled, align_corners):
    if align_corners:
        return (size - 1) / (scaled - 1) if scaled > 1 else 1.0
    return size / scaled


def _one_pass(model, x, scale, mirrored, align_corners):
    """Semantic probabilities, heatmap and offsets of one pass, at the size of ``x``."""
    height, width = (int(s) for s in x.shape[2:])
    scaled = (_network_size(height, scale, align_corners),
              _network_size(width, scale, align_corners))
    inp = _resize(x, scaled, align_corners)
    if mirrored:
        inp = paddle.flip(inp, axis=[3])
    semantic, center, offset = model(inp)[:3]
    if mirrored:
        semantic, center, offset = (paddle.flip(t, axis=[3]) for t in (semantic, center, offset))
    semantic = F.softmax(_resize(semantic, (height, width), align_corners), axis=1)
    center = _resize(center, (height, width), align_corners)
    offset = _resize(offset, (height, width), align_corners)
    dy = offset[:, 0:1] * _ratio(height, scaled[0], align_corners)
    dx = offset[:, 1:2] * _ratio(width, scaled[1], align_corners)
    if mirrored:
        dx = -dx
    return semantic, center, paddle.concat([dy, dx], axis=1)


def network_outputs(model, x, tta=None, align_corners=None):
    """The network outputs of a padded batch, with or without test-time augmentation.

    Args:
        model (callable): ``model(x)`` -> ``[semantic, center, offset, ...]`` for an
            ``[N, 3, h, w]`` tensor of a size the network handles.
        x (paddle.Tensor): ``[N, 3, H, W]`` normalised, padded images.
        tta (TTA | None): None or the plain setting: one network run.
        align_corners (bool | None): of the resizing; None: the model's own
            (``model.align_corners``, else True).

    Returns:
        tuple: ``(semantic, center, offset, probabilities)``, tensors ``[N, C, H, W]``,
        ``[N, 1, H, W]``, ``[N, 2, H, W]`` and a bool: ``semantic`` holds averaged
        probabilities (True) or the network's logits (False, plain setting).
    """
    if tta is None or tta.is_plain:
        semantic, center, offset = model(x)[:3]
        return semantic, center, offset, False
    if align_corners is None:
        align_corners = bool(getattr(model, "align_corners", True))
    sums = None
    for scale, mirrored in tta.passes:
        outputs = _one_pass(model, x, scale, mirrored, align_corners)
        sums = list(outputs) if sums is None else [a + b for a, b in zip(sums, outputs)]
    count = float(len(tta.passes))
    semantic, center, offset = (s / count for s in sums)
    return semantic, center, offset, True
