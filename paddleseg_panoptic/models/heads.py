"""Prediction heads of Panoptic-DeepLab and the container holding both decoders and heads.

Attribute names (``classifier``, ``semantic_decoder``, ``semantic_head``, ``instance_decoder``,
``instance_head``) follow the reference checkpoints and must not change.
"""
import paddle.nn as nn

from .decoder import SeparableConvBNReLU, SinglePanopticDeepLabDecoder


class SinglePanopticDeepLabHead(nn.Layer):
    """One classifier per output: separable 5x5 block then a 1x1 conv with bias.

    Args:
        in_channels (int): channels of the decoder output.
        head_channels (int): width of the separable block.
        num_classes (list[int]): output channels of each classifier.
        class_key (list[str]): name of each output, same length as ``num_classes``.

    Shapes:
        x: [N, in_channels, h, w] -> dict ``{key: [N, num_classes[i], h, w]}`` in key order.
    """

    def __init__(self, in_channels, head_channels, num_classes, class_key):
        super().__init__()
        if len(num_classes) != len(class_key):
            raise ValueError("num_classes {} and class_key {} must have the same length".format(
                list(num_classes), list(class_key)))
        self.class_key = list(class_key)
        self.classifier = nn.LayerList()
        for n in num_classes:
            self.classifier.append(nn.Sequential(
                SeparableConvBNReLU(in_channels, head_channels, 5),
                nn.Conv2D(head_channels, n, 1)))

    def forward(self, x):
        return {key: classifier(x) for key, classifier in zip(self.class_key, self.classifier)}


class PanopticDeepLabHead(nn.Layer):
    """Semantic and instance branches: a decoder and a head each.

    Args:
        num_classes (int): semantic classes.
        backbone_indices (list[int]): see ``SinglePanopticDeepLabDecoder``.
        backbone_channels (list[int]): channels of every backbone output.
        aspp_ratios (list[int]): ASPP dilation rates (shared by both branches).
        aspp_out_channels, decoder_channels (int): semantic branch widths.
        align_corners (bool): for every bilinear upsampling.
        low_level_channels_projects (list[int]): semantic low-level projections.
        instance_aspp_out_channels, instance_decoder_channels (int): instance branch widths.
        instance_low_level_channels_projects (list[int]): instance low-level projections.
        instance_num_classes (list[int]): channels of each instance output, e.g. [1, 2].
        instance_head_channels (int): width of the instance heads' separable block.
        instance_class_key (list[str]): names of the instance outputs, e.g. [center, offset].

    Shapes:
        features -> dict ``{'semantic': [N, num_classes, h, w], 'center': [N, 1, h, w],
        'offset': [N, 2, h, w]}`` at the resolution of the last low-level feature.
    """

    def __init__(self, num_classes, backbone_indices, backbone_channels, aspp_ratios,
                 aspp_out_channels, decoder_channels, align_corners,
                 low_level_channels_projects, instance_aspp_out_channels,
                 instance_decoder_channels, instance_low_level_channels_projects,
                 instance_num_classes, instance_head_channels, instance_class_key):
        super().__init__()
        self.semantic_decoder = SinglePanopticDeepLabDecoder(
            backbone_indices, backbone_channels, aspp_ratios, aspp_out_channels,
            decoder_channels, align_corners, low_level_channels_projects)
        self.semantic_head = SinglePanopticDeepLabHead(
            decoder_channels, decoder_channels, [num_classes], ["semantic"])
        self.instance_decoder = SinglePanopticDeepLabDecoder(
            backbone_indices, backbone_channels, aspp_ratios, instance_aspp_out_channels,
            instance_decoder_channels, align_corners, instance_low_level_channels_projects)
        self.instance_head = SinglePanopticDeepLabHead(
            instance_decoder_channels, instance_head_channels, instance_num_classes,
            instance_class_key)

    def forward(self, features):
        out = dict(self.semantic_head(self.semantic_decoder(features)))
        out.update(self.instance_head(self.instance_decoder(features)))
        return out
