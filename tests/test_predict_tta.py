"""Test-time augmentation: the averaging, scaling and mirroring rules on hand-checkable
models, mirror symmetry on a real tiny model, the plain setting byte-identical to no TTA, the
settings from the config and the command line, and post-processing of probabilities."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddleseg_panoptic.core.evaluate import evaluate
from paddleseg_panoptic.core.tta import TTA, network_outputs
from paddleseg_panoptic.postprocess.inference import panoptic_postprocess
from paddleseg_panoptic.utils.arrays import to_numpy
from evaluation_toys import TinyDataset
from test_evaluation_loop import SplitOutputs


class Ramp(paddle.nn.Layer):
    """Outputs made from the input's channels: logits = channels 0-1, heatmap = channel 2,
    offsets = channels 0-1; fed with linear ramps, every output is a linear ramp."""

    align_corners = True

    def forward(self, x):
        return [x[:, :2], x[:, 2:3], x[:, :2]]


class Constant(paddle.nn.Layer):
    """Logits (0, log 3), heatmap 0.5, offsets (dy, dx) = (1, 2) at every pixel of any size."""

    align_corners = True

    def forward(self, x):
        n, _, h, w = x.shape
        ones = paddle.ones([n, 1, h, w])
        return [paddle.concat([0 * ones, float(np.log(3.0)) * ones], axis=1), 0.5 * ones,
                paddle.concat([ones, 2 * ones], axis=1)]


def _ramp_image(h, w):
    y, x = np.mgrid[0:h, 0:w].astype("float32")
    return paddle.to_tensor(np.stack([x / w, y / h, (x + 2 * y) / (w + h)])[None])


def test_scale_rule_offsets_count_input_pixels():
    # 65 = 2 * 32 + 1: at scale 0.5 the network sees 33 x 33, (65 - 1) / (33 - 1) = 2.
    x = paddle.zeros([1, 3, 65, 65])
    sem, center, offset, probs = network_outputs(Constant(), x, TTA((0.5,)))
    assert probs is True
    assert np.allclose(sem.numpy()[0, :, 7, 9], [0.25, 0.75], atol=1e-6)
    assert np.allclose(center.numpy(), 0.5)
    assert np.allclose(offset.numpy()[0, 0], 2.0) and np.allclose(offset.numpy()[0, 1], 4.0)
    # Averaged with scale 1.0: (2 + 1) / 2 and (4 + 2) / 2.
    _, _, offset, _ = network_outputs(Constant(), x, TTA((0.5, 1.0)))
    assert np.allclose(offset.numpy()[0, 0], 1.5) and np.allclose(offset.numpy()[0, 1], 3.0)


def test_flip_rule_negates_dx():
    x = paddle.zeros([1, 3, 33, 33])
    _, center, offset, _ = network_outputs(Constant(), x, TTA((1.0,), flip_horizontal=True))
    assert np.allclose(center.numpy(), 0.5)
    # dy = 1 in both passes; dx = 2 and -2 (the mirrored pass) average to 0.
    assert np.allclose(offset.numpy()[0, 0], 1.0) and np.allclose(offset.numpy()[0, 1], 0.0)


@pytest.mark.parametrize("scales,flip", [((0.5,), False), ((1.0,), True),
                                         ((0.5, 1.0, 1.5), True)])
def test_outputs_come_back_to_the_input_geometry(scales, flip):
    # Linear ramps survive bilinear down / up sampling with align_corners and a mirror
    # there and back: a pass that lands shifted or mirrored would change the heatmap.
    x = _ramp_image(65, 129)
    _, center, offset, _ = network_outputs(Ramp(), x, TTA(scales, flip))
    assert np.allclose(center.numpy(), x.numpy()[:, 2:3], atol=1e-5)
    if scales == (0.5,):
        # the network saw 33 x 65: offsets grow by (65 - 1) / (33 - 1) = 2 = (129 - 1) / 64
        assert np.allclose(offset.numpy(), 2 * x.numpy()[:, :2], atol=1e-5)


def test_flip_averages_the_mirrored_pass_exactly():
    paddle.seed(3)
    model = SplitOutputs()
    model.eval()
    x = paddle.randn([1, 3, 10, 14])
    with paddle.no_grad():
        sem, center, offset, _ = network_outputs(model, x, TTA((1.0,), True))
        a = model(x)
        b = [paddle.flip(t, axis=[3]) for t in model(paddle.flip(x, axis=[3]))]
    expected_sem = (F.softmax(a[0], axis=1) + F.softmax(b[0], axis=1)) / 2
    assert np.array_equal(sem.numpy(), expected_sem.numpy())
    assert np.array_equal(center.numpy(), ((a[1] + b[1]) / 2).numpy())
    assert np.array_equal(offset.numpy()[:, 0], ((a[2][:, 0] + b[2][:, 0]) / 2).numpy())
    assert np.array_equal(offset.numpy()[:, 1], ((a[2][:, 1] - b[2][:, 1]) / 2).numpy())


def test_image_and_its_mirror_give_mirrored_results_on_a_tiny_real_model():
    from paddleseg_panoptic.cvlibs.config import Config
    from test_predict_tool import TOY, _biased_model

    model = _biased_model(Config(str(TOY)))
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((1, 3, 65, 97)),
                         dtype="float32")
    tta = TTA((0.5, 1.0), flip_horizontal=True)
    with paddle.no_grad():
        sem, center, offset, _ = network_outputs(model, x, tta)
        m_sem, m_center, m_offset, _ = network_outputs(model, paddle.flip(x, axis=[3]), tta)
    mirror = lambda t: t.numpy()[..., ::-1]  # noqa: E731
    assert np.allclose(m_sem.numpy(), mirror(sem), atol=1e-6)
    assert np.allclose(m_center.numpy(), mirror(center), atol=1e-6)
    assert np.allclose(m_offset.numpy()[:, 0], mirror(offset)[:, 0], atol=1e-4)
    assert np.allclose(m_offset.numpy()[:, 1], -mirror(offset)[:, 1], atol=1e-4)


def test_plain_setting_is_the_network_itself():
    paddle.seed(4)
    model = SplitOutputs()
    x = paddle.randn([1, 3, 10, 14])
    with paddle.no_grad():
        expected = model(x)
        for tta in (None, TTA(), TTA([1.0], False)):
            *outputs, probabilities = network_outputs(model, x, tta)
            assert probabilities is False
            for got, want in zip(outputs, expected):
                assert np.array_equal(got.numpy(), want.numpy())


def test_evaluation_plain_tta_equals_none_and_settings_are_recorded():
    dataset = TinyDataset(count=3)
    for sample in dataset.samples:
        sample["image"] = np.random.default_rng(int(sample["index"])).standard_normal(
            sample["image"].shape).astype(np.float32)
    kwargs = dict(threshold=0.05, nms_kernel=3, top_k=50, print_detail=False)
    plain = evaluate(SplitOutputs(), dataset, **kwargs)
    same = evaluate(SplitOutputs(), dataset, tta=TTA((1.0,)), **kwargs)
    flipped = evaluate(SplitOutputs(), dataset, tta=TTA((1.0,), True), **kwargs)
    for key in ("sem_seg", "pan_seg", "ins_seg"):
        assert plain[key] == same[key]
    assert plain["tta"] == {"scales": [1.0], "flip_horizontal": False}
    assert flipped["tta"] == {"scales": [1.0], "flip_horizontal": True}
    assert plain["instance_score"] == "semantic"


@pytest.mark.parametrize("on_device", [False, True])
def test_postprocess_takes_probabilities(on_device):
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((4, 12, 16)).astype("float32") * 3
    heatmap = rng.random((1, 12, 16)).astype("float32")
    offsets = rng.standard_normal((2, 12, 16)).astype("float32")
    probs = np.exp(logits) / np.exp(logits).sum(axis=0)
    kwargs = dict(thing_list=[2, 3], label_divisor=1000, stuff_area=1, ignore_index=255,
                  threshold=0.5, nms_kernel=3, output_size=(10, 15))
    convert = (lambda a: paddle.to_tensor(a)) if on_device else (lambda a: a)
    from_logits = panoptic_postprocess(convert(logits), convert(heatmap), convert(offsets),
                                       **kwargs)
    from_probs = panoptic_postprocess(convert(probs), convert(heatmap), convert(offsets),
                                      probabilities=True, **kwargs)
    for key in ("semantic", "instance", "panoptic"):
        assert np.array_equal(to_numpy(from_logits[key]), to_numpy(from_probs[key])), key
    # the probabilities are passed through (cropped), not put through a second softmax
    assert np.array_equal(to_numpy(from_probs["semantic_softmax"]), probs[:, :10, :15])
    with pytest.raises(ValueError, match="probabilities must be a bool"):
        panoptic_postprocess(probs, heatmap, offsets, probabilities="yes", **kwargs)


def test_settings_from_config_and_command_line():
    assert TTA.resolve(None).is_plain
    # scales without the switch do nothing (as in PaddleSeg)
    assert TTA.resolve({"scales": [0.5, 1.0], "flip_horizontal": True}).is_plain
    assert TTA.resolve({"aug_eval": True, "scales": [0.5, 1.0], "flip_horizontal": True}) \
        == TTA((0.5, 1.0), True)
    # the prediction switch is aug_pred; aug_eval alone does not turn prediction TTA on
    assert TTA.resolve({"aug_eval": True, "scales": [2]}, enable_key="aug_pred").is_plain
    assert TTA.resolve({"aug_pred": True, "scales": 0.75}, enable_key="aug_pred") \
        == TTA((0.75,))
    # the command line replaces the config's values
    assert TTA.resolve({"aug_eval": True, "scales": [0.5], "flip_horizontal": True},
                       scales=[1.25], flip_horizontal=False) == TTA((1.25,), False)
    assert TTA.resolve(None, enable=True, flip_horizontal=True) == TTA((1.0,), True)
    assert TTA((1.0, 2.0), True).passes == [(1.0, False), (1.0, True), (2.0, False),
                                            (2.0, True)]
    assert TTA.resolve({"flip_vertical": False, "is_slide": False}).is_plain
    with pytest.raises(ValueError, match=r"cfg.yml: test_config.flip_vertical is not supported"):
        TTA.resolve({"flip_vertical": True}, source="cfg.yml")
    with pytest.raises(ValueError, match=r"unknown test_config key\(s\) \['scale'\]"):
        TTA.resolve({"scale": [1.0]})
    with pytest.raises(ValueError, match="positive"):
        TTA.resolve({"aug_eval": True, "scales": [0.0]})
    with pytest.raises(ValueError, match="mapping"):
        TTA.resolve([1.0])
