"""PanopticDeepLab: checkpoint names, output shapes, offset scaling, determinism."""
import json
import os

import numpy as np
import paddle
import pytest
from paddleseg.models.backbones import ResNet18_vd, ResNet50_vd

import paddleseg_panoptic  # noqa: F401
from paddleseg_panoptic.cvlibs import manager
from paddleseg_panoptic.models import PanopticDeepLab, offset_upsample_scale

# Parameter names / order / shapes / dtypes of the reference model (num_classes 19).
MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                        "panoptic_deeplab_r50_os32_state_dict.json")
REFERENCE_KWARGS = dict(
    backbone_indices=[2, 1, 0, 3], aspp_ratios=[1, 3, 6, 9], aspp_out_channels=256,
    decoder_channels=256, low_level_channels_projects=[128, 64, 32], align_corners=True,
    instance_aspp_out_channels=256, instance_decoder_channels=128,
    instance_low_level_channels_projects=[64, 32, 16], instance_num_classes=[1, 2],
    instance_head_channels=32, instance_class_key=["center", "offset"])


def small_model(num_classes=5, seed=0):
    """ResNet18_vd OS32 with narrow decoders, as in the toy config."""
    paddle.seed(seed)
    return PanopticDeepLab(
        num_classes, ResNet18_vd(output_stride=32), backbone_indices=[2, 1, 0, 3],
        aspp_ratios=[1, 3, 6, 9], aspp_out_channels=16, decoder_channels=16,
        low_level_channels_projects=[8, 8, 4], align_corners=True,
        instance_aspp_out_channels=16, instance_decoder_channels=8,
        instance_low_level_channels_projects=[4, 4, 2], instance_num_classes=[1, 2],
        instance_head_channels=8, instance_class_key=["center", "offset"])


@pytest.fixture(scope="module")
def r50():
    model = PanopticDeepLab(19, ResNet50_vd(output_stride=32), **REFERENCE_KWARGS)
    model.eval()
    return model


def test_registered_in_models_and_not_replaceable():
    assert manager.MODELS.components_dict["PanopticDeepLab"] is PanopticDeepLab

    impostor = type("PanopticDeepLab", (paddle.nn.Layer,), {})   # same name, another class
    with pytest.raises(KeyError, match="PanopticDeepLab"):
        manager.register(manager.MODELS)(impostor)
    assert manager.MODELS.components_dict["PanopticDeepLab"] is PanopticDeepLab


def test_state_dict_equals_reference_manifest(r50):
    with open(MANIFEST) as f:
        manifest = json.load(f)
    expected = [(e["name"], e["shape"], e["dtype"]) for e in manifest["state_dict"]]
    got = [(name, list(t.shape), str(t.dtype).replace("paddle.", ""))
           for name, t in r50.state_dict().items()]
    assert got == expected   # names, order, shapes and dtypes
    assert sum(int(np.prod(s)) for _, s, _ in got) == manifest["total_params"]
    trainable = sum(int(np.prod(p.shape)) for p in r50.parameters() if not p.stop_gradient)
    assert trainable == manifest["trainable_params"]


def test_r50_forward_shapes(r50):
    with paddle.no_grad():
        out = r50(paddle.zeros([1, 3, 65, 129]))
    assert [list(o.shape) for o in out] == [[1, 19, 65, 129], [1, 1, 65, 129], [1, 2, 65, 129]]


@pytest.mark.parametrize("height,width", [(129, 257), (128, 256), (66, 97)])
def test_forward_shapes_odd_and_even(height, width):
    model = small_model()
    model.eval()
    with paddle.no_grad():
        semantic, center, offset = model(paddle.rand([2, 3, height, width]))
    assert list(semantic.shape) == [2, 5, height, width]
    assert list(center.shape) == [2, 1, height, width]
    assert list(offset.shape) == [2, 2, height, width]


@pytest.mark.parametrize("input_height,head_height,scale", [
    (1025, 257, 4),    # odd: (1025 - 1) // (257 - 1)
    (1024, 256, 4),    # even: 1024 // 256
    (129, 33, 4),      # odd: 128 // 32
    (130, 33, 3),      # even: 130 // 33 = 3 (not 4)
    (65, 17, 4),       # odd: 64 // 16
    (67, 17, 4),       # odd: 66 // 16 = 4 (even rule would give 3)
])
def test_offset_upsample_scale_rule(input_height, head_height, scale):
    assert offset_upsample_scale(input_height, head_height) == scale
    as_tensor = offset_upsample_scale(paddle.to_tensor(input_height), paddle.to_tensor(head_height))
    assert int(as_tensor) == scale


def constant_output_model():
    """Every parameter zero except the three heads' final biases, so each head predicts a
    constant: semantic = class index, center = 0.5, offset = (dy, dx) = (1, 2) head pixels."""
    model = small_model()
    state = {k: np.zeros(v.shape, dtype="float32") for k, v in model.state_dict().items()}
    state["head.semantic_head.classifier.0.1.bias"] = np.arange(5, dtype="float32")
    state["head.instance_head.classifier.0.1.bias"] = np.array([0.5], dtype="float32")
    state["head.instance_head.classifier.1.1.bias"] = np.array([1.0, 2.0], dtype="float32")
    model.set_state_dict(state)
    model.eval()
    return model


@pytest.mark.parametrize("height,width,scale", [
    (129, 65, 4),   # backbone stride 4 gives head height 33: odd rule (129 - 1) // 32 = 4
    (130, 65, 3),   # head height 33 again: even rule 130 // 33 = 3
    (128, 64, 4),   # head height 32: 128 // 32
])
def test_offsets_are_scaled_by_the_rule_semantic_and_center_are_not(height, width, scale):
    model = constant_output_model()
    with paddle.no_grad():
        semantic, center, offset = model(paddle.rand([1, 3, height, width]))
    np.testing.assert_allclose(offset[0, 0].numpy(), np.full((height, width), 1.0 * scale),
                               rtol=1e-6)
    np.testing.assert_allclose(offset[0, 1].numpy(), np.full((height, width), 2.0 * scale),
                               rtol=1e-6)
    np.testing.assert_allclose(center.numpy(), np.full((1, 1, height, width), 0.5), rtol=1e-6)
    np.testing.assert_allclose(semantic[0, :, 0, 0].numpy(), np.arange(5), rtol=1e-6)


def test_eval_is_deterministic_and_train_mode_is_not():
    model = small_model()
    x = paddle.rand([1, 3, 65, 97])
    model.eval()
    with paddle.no_grad():
        first = [o.numpy() for o in model(x)]
        second = [o.numpy() for o in model(x)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    model.train()   # dropout p=0.5 after the ASPP makes two training passes differ
    with paddle.no_grad():
        train_a = model(x)[0].numpy()
        train_b = model(x)[0].numpy()
    assert not np.array_equal(train_a, train_b)


def test_bad_backbone_indices_are_rejected():
    with pytest.raises(ValueError, match="backbone_indices"):
        PanopticDeepLab(5, ResNet18_vd(output_stride=32), backbone_indices=[2, 1, 0, 4])


def test_to_static_with_dynamic_shapes_matches_dynamic_graph():
    # Exported models see heights only at run time: the offset scale must follow the rule
    # there too (130 is even -> 3, 129 odd -> 4 with a head height of 33).
    model = constant_output_model()
    spec = [paddle.static.InputSpec([None, 3, None, None], "float32")]
    static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    for height, scale in ((129, 4), (130, 3)):
        offset = static(paddle.rand([1, 3, height, 33]))[2]
        np.testing.assert_allclose(offset[0, 1].numpy(), np.full((height, 33), 2.0 * scale),
                                   rtol=1e-6)
