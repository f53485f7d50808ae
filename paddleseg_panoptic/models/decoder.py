"""ASPP and the single-branch Panoptic-DeepLab decoder.

Sub-layer attribute names (``aspp_blocks``, ``global_avg_pool``, ``conv_bn_relu``, ``project``,
``fuse``, ``depthwise_conv``, ``piontwise_conv``, ``_conv``, ``_batch_norm``) are the names of
the reference checkpoints' parameters and must not change: released ``model.pdparams`` files
load by name.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddleseg.models import layers


def conv_bn_relu(in_channels, out_channels, kernel_size, **kwargs):
    """Conv (no bias) + BatchNorm + ReLU, parameters named ``_conv`` / ``_batch_norm``."""
    kwargs.setdefault("padding", kernel_size // 2)
    return layers.ConvBNReLU(in_channels, out_channels, kernel_size, bias_attr=False, **kwargs)


class SeparableConvBNReLU(nn.Layer):
    """Depthwise kxk conv+BN+ReLU, then pointwise 1x1 conv+BN+ReLU, without biases.

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels of the output.
        kernel_size (int): depthwise kernel size (odd); padding keeps the spatial size.
    """

    def __init__(self, in_channels, out_channels, kernel_size=5):
        super().__init__()
        self.depthwise_conv = conv_bn_relu(in_channels, in_channels, kernel_size,
                                           groups=in_channels)
        # The misspelling is part of the reference checkpoint format.
        self.piontwise_conv = conv_bn_relu(in_channels, out_channels, 1)

    def forward(self, x):
        return self.piontwise_conv(self.depthwise_conv(x))


class ASPP(nn.Layer):
    """Atrous spatial pyramid pooling with an image-pooling branch.

    Args:
        in_channels (int): channels of the deepest backbone feature.
        out_channels (int): channels of every branch and of the output.
        aspp_ratios (list[int]): one branch per ratio; ratio 1 is a 1x1 conv, others a 3x3
            conv with dilation = padding = ratio.
        align_corners (bool): for the bilinear upsampling of the pooled branch.
        dropout_prob (float): dropout after the projection.

    Shapes:
        x: [N, in_channels, h, w] -> [N, out_channels, h, w].
    """

    def __init__(self, in_channels, out_channels, aspp_ratios, align_corners, dropout_prob=0.5):
        super().__init__()
        self.align_corners = align_corners
        self.aspp_blocks = nn.LayerList()
        for ratio in aspp_ratios:
            if ratio == 1:
                block = conv_bn_relu(in_channels, out_channels, 1, padding=0)
            else:
                block = conv_bn_relu(in_channels, out_channels, 3, dilation=ratio, padding=ratio)
            self.aspp_blocks.append(block)
        self.global_avg_pool = nn.Sequential(
            nn.AdaptiveAvgPool2D(output_size=(1, 1)),
            conv_bn_relu(in_channels, out_channels, 1, padding=0))
        self.conv_bn_relu = conv_bn_relu(out_channels * (len(aspp_ratios) + 1), out_channels, 1,
                                         padding=0)
        self.dropout = nn.Dropout(p=dropout_prob)

    def forward(self, x):
        outputs = [block(x) for block in self.aspp_blocks]
        pooled = self.global_avg_pool(x)
        pooled = F.interpolate(pooled, size=x.shape[2:], mode="bilinear",
                               align_corners=self.align_corners)
        outputs.append(pooled)
        x = paddle.concat(outputs, axis=1)
        return self.dropout(self.conv_bn_relu(x))


class SinglePanopticDeepLabDecoder(nn.Layer):
    """ASPP on the deepest feature, then three project / upsample / concat / fuse steps.

    Args:
        backbone_indices (list[int]): indices into the backbone outputs; the last feeds the
            ASPP, the others are the low-level features fused in order.
        backbone_channels (list[int]): channels of every backbone output.
        aspp_ratios (list[int]): ASPP dilation rates.
        aspp_out_channels (int): ASPP width.
        decoder_channels (int): width after each fuse step.
        align_corners (bool): for the bilinear upsampling.
        low_level_channels_projects (list[int]): projection width of each low-level feature.

    Shapes:
        features: list of backbone outputs [N, C_i, h_i, w_i] -> [N, decoder_channels, h, w]
        at the resolution of the last low-level feature.
    """

    def __init__(self, backbone_indices, backbone_channels, aspp_ratios, aspp_out_channels,
                 decoder_channels, align_corners, low_level_channels_projects):
        super().__init__()
        if len(low_level_channels_projects) != len(backbone_indices) - 1:
            raise ValueError(
                "low_level_channels_projects has {} entries but backbone_indices {} names {} "
                "low-level features".format(len(low_level_channels_projects), backbone_indices,
                                            len(backbone_indices) - 1))
        self.backbone_indices = list(backbone_indices)
        self.align_corners = align_corners
        self.aspp = ASPP(backbone_channels[backbone_indices[-1]], aspp_out_channels, aspp_ratios,
                         align_corners)
        self.project = nn.LayerList()
        self.fuse = nn.LayerList()
        running_channels = aspp_out_channels
        for index, project_channels in zip(backbone_indices[:-1], low_level_channels_projects):
            self.project.append(conv_bn_relu(backbone_channels[index], project_channels, 1,
                                             padding=0))
            self.fuse.append(SeparableConvBNReLU(running_channels + project_channels,
                                                 decoder_channels, 5))
            running_channels = decoder_channels

    def forward(self, features):
        x = self.aspp(features[self.backbone_indices[-1]])
        for i, index in enumerate(self.backbone_indices[:-1]):
            low = self.project[i](features[index])
            x = F.interpolate(x, size=low.shape[2:], mode="bilinear",
                              align_corners=self.align_corners)
            x = self.fuse[i](paddle.concat([x, low], axis=1))
        return x
