"""The Panoptic-DeepLab model: backbone, two decoders, semantic / center / offset heads."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddleseg_panoptic.cvlibs.manager import MODELS, register
from paddleseg_panoptic.models.heads import PanopticDeepLabHead


@paddle.jit.not_to_static  # plain Python dispatch on the height types, also when exporting
def offset_upsample_scale(input_height, head_height):
    """Factor by which upsampled offsets are multiplied (reference rule, heights only).

    Offsets are predicted in pixels of the head's resolution; after bilinear upsampling to the
    input size they are scaled to input pixels. For an odd input height H (e.g. 1025, where
    ``align_corners=True`` maps corners onto corners) the factor is ``(H - 1) // (h - 1)``,
    for an even one ``H // h``.

    Args:
        input_height (int or Tensor): H.
        head_height (int or Tensor): h.

    Returns:
        int, or an int64 Tensor when a height is a Tensor (shapes known only at run time,
        e.g. in an exported model).
    """
    if isinstance(input_height, int) and isinstance(head_height, int):
        if input_height % 2 == 1 and head_height > 1:
            return (input_height - 1) // (head_height - 1)
        return input_height // head_height
    return _offset_upsample_scale_tensor(input_height, head_height)


def _as_int64(value):
    if isinstance(value, (paddle.Tensor, paddle.pir.Value)):
        return value.astype("int64")
    return paddle.to_tensor(value, dtype="int64")


def _offset_upsample_scale_tensor(input_height, head_height):
    input_height = _as_int64(input_height)
    head_height = _as_int64(head_height)
    odd = paddle.logical_and(input_height % 2 == 1, head_height > 1)
    # maximum() avoids a division by zero in the branch where() discards.
    odd_scale = (input_height - 1) // paddle.maximum(head_height - 1, paddle.ones_like(head_height))
    return paddle.where(odd, odd_scale, input_height // head_height)


@register(MODELS)
class PanopticDeepLab(nn.Layer):
    """Panoptic-DeepLab (Cheng et al., CVPR 2020), checkpoint-compatible with PaddleSeg's
    contrib/PanopticDeepLab.

    Args:
        num_classes (int): semantic classes (19 for Cityscapes).
        backbone (paddle.nn.Layer): returns a list of features and has ``feat_channels``,
            e.g. paddleseg's ``ResNet50_vd(output_stride=32)``.
        backbone_indices (list[int]): the last index feeds the ASPP; the others are the
            low-level features fused by the decoders, in order.
        aspp_ratios (list[int]): ASPP dilation rates.
        aspp_out_channels (int): semantic ASPP width.
        decoder_channels (int): semantic decoder width.
        low_level_channels_projects (list[int]): semantic low-level projection widths.
        align_corners (bool): for every bilinear upsampling.
        pretrained (str, optional): whole-model weights, a local ``.pdparams`` path or an URL;
            loaded after construction with a report of missing / mismatched keys.
        instance_aspp_out_channels (int): instance ASPP width.
        instance_decoder_channels (int): instance decoder width.
        instance_low_level_channels_projects (list[int]): instance projection widths.
        instance_num_classes (list[int]): channels of each instance output.
        instance_head_channels (int): width of the instance heads.
        instance_class_key (list[str]): names of the instance outputs; the one named
            ``offset`` is rescaled after upsampling.

    Shapes:
        ``forward(x)``: x [N, 3, H, W] -> ``[semantic [N, num_classes, H, W],
        center [N, 1, H, W], offset [N, 2, H, W]]``, offset channels (dy, dx) in input pixels.
    """

    def __init__(self, num_classes, backbone, backbone_indices=(2, 1, 0, 3),
                 aspp_ratios=(1, 3, 6, 9), aspp_out_channels=256, decoder_channels=256,
                 low_level_channels_projects=(128, 64, 32), align_corners=False,
                 pretrained=None, instance_aspp_out_channels=256, instance_decoder_channels=128,
                 instance_low_level_channels_projects=(64, 32, 16),
                 instance_num_classes=(1, 2), instance_head_channels=32,
                 instance_class_key=("center", "offset")):
        super().__init__()
        backbone_channels = getattr(backbone, "feat_channels", None)
        if backbone_channels is None:
            raise ValueError("PanopticDeepLab needs a backbone with a `feat_channels` attribute, "
                             "got {}".format(type(backbone).__name__))
        for index in backbone_indices:
            if not 0 <= index < len(backbone_channels):
                raise ValueError("backbone_indices {} out of range for a backbone with {} "
                                 "outputs".format(list(backbone_indices), len(backbone_channels)))
        self.backbone = backbone
        self.num_classes = num_classes
        self.align_corners = align_corners
        self.class_keys = ["semantic"] + list(instance_class_key)
        self.head = PanopticDeepLabHead(
            num_classes, list(backbone_indices), list(backbone_channels), list(aspp_ratios),
            aspp_out_channels, decoder_channels, align_corners, list(low_level_channels_projects),
            instance_aspp_out_channels, instance_decoder_channels,
            list(instance_low_level_channels_projects), list(instance_num_classes),
            instance_head_channels, list(instance_class_key))
        self.pretrained = pretrained
        if pretrained is not None:
            # Imported here: utils.weights imports paddleseg's download helpers.
            from paddleseg_panoptic.utils.weights import load_pretrained
            load_pretrained(self, pretrained, key="model.pretrained")

    def forward(self, x):
        features = self.backbone(x)
        predictions = self.head(features)
        input_size = list(x.shape[2:])
        if not all(isinstance(s, int) and s > 0 for s in input_size):
            input_size = paddle.shape(x)[2:]    # dynamic shapes (exported model)
        outputs = []
        for key in self.class_keys:
            pred = predictions[key]
            out = F.interpolate(pred, size=input_size, mode="bilinear",
                                align_corners=self.align_corners)
            if key == "offset":
                head_height = pred.shape[2]
                if not (isinstance(head_height, int) and head_height > 0):
                    head_height = paddle.shape(pred)[2]
                scale = offset_upsample_scale(input_size[0], head_height)
                if not isinstance(scale, int):
                    scale = scale.astype(out.dtype)
                out = out * scale
            outputs.append(out)
        return outputs
