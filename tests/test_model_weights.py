"""Weight loading: round trip, reports of missing / unexpected / mismatched keys, refusals,
and pretrained paths / URLs."""
import numpy as np
import paddle
import pytest
from paddleseg.models.backbones import ResNet18_vd

import paddleseg_panoptic  # noqa: F401
from paddleseg_panoptic.models import PanopticDeepLab
from paddleseg_panoptic.utils.weights import (PretrainedWeightsError, load_pretrained,
                                              load_weights, read_state_dict)

from test_model_panoptic_deeplab import small_model

UNREACHABLE = "http://127.0.0.1:9/paddleseg_panoptic_test_model.pdparams"


def outputs(model, x):
    model.eval()
    with paddle.no_grad():
        return [o.numpy() for o in model(x)]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = small_model(seed=1)
    path = str(tmp_path_factory.mktemp("w") / "model.pdparams")
    paddle.save(model.state_dict(), path)
    return model, path


def test_save_load_round_trip_gives_identical_outputs(saved):
    source, path = saved
    target = small_model(seed=2)
    x = paddle.rand([1, 3, 65, 97])
    assert not np.array_equal(outputs(source, x)[0], outputs(target, x)[0])
    report = load_weights(target, path)
    assert report.complete
    assert len(report.loaded) == len(source.state_dict())
    for a, b in zip(outputs(source, x), outputs(target, x)):
        np.testing.assert_array_equal(a, b)


def test_directory_with_model_pdparams_is_accepted(saved):
    import os
    _, path = saved
    report = load_weights(small_model(seed=3), os.path.dirname(path))
    assert report.complete


def test_wrong_shape_and_unexpected_keys_are_reported(saved):
    _, path = saved
    state = read_state_dict(path)
    state["extra.weight"] = np.zeros([3], dtype="float32")
    del state["head.instance_head.classifier.0.1.bias"]
    target = small_model(num_classes=7, seed=4)     # semantic classifier 5 -> 7 classes
    before = target.state_dict()["head.semantic_head.classifier.0.1.weight"].numpy()
    report = load_weights(target, state)
    assert sorted(k for k, _, _ in report.mismatched) == [
        "head.semantic_head.classifier.0.1.bias", "head.semantic_head.classifier.0.1.weight"]
    assert ("head.semantic_head.classifier.0.1.weight", [5, 16, 1, 1], [7, 16, 1, 1]) \
        in report.mismatched
    assert report.missing == ["head.instance_head.classifier.0.1.bias"]
    assert report.unexpected == ["extra.weight"]
    assert len(report.loaded) == len(target.state_dict()) - 3
    assert not report.complete
    assert "shape mismatch (2)" in report.summary()
    # Skipped tensors keep their values.
    np.testing.assert_array_equal(
        target.state_dict()["head.semantic_head.classifier.0.1.weight"].numpy(), before)


def test_checkpoint_matching_nothing_is_refused(tmp_path):
    path = str(tmp_path / "other.pdparams")
    paddle.save(paddle.nn.Linear(2, 3).state_dict(), path)
    with pytest.raises(ValueError, match="other.pdparams"):
        load_weights(small_model(), path)


def test_missing_or_unreadable_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pdparams"):
        load_weights(small_model(), str(tmp_path / "absent.pdparams"))
    bad = tmp_path / "garbage.pdparams"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="garbage.pdparams"):
        load_weights(small_model(), str(bad))


def test_model_pretrained_loads_a_local_file(saved):
    source, path = saved
    paddle.seed(5)
    model = PanopticDeepLab(
        5, ResNet18_vd(output_stride=32), aspp_out_channels=16, decoder_channels=16,
        low_level_channels_projects=[8, 8, 4], align_corners=True, pretrained=path,
        instance_aspp_out_channels=16, instance_decoder_channels=8,
        instance_low_level_channels_projects=[4, 4, 2], instance_head_channels=8)
    x = paddle.rand([1, 3, 33, 65])
    for a, b in zip(outputs(source, x), outputs(model, x)):
        np.testing.assert_array_equal(a, b)


def test_unreachable_url_gives_a_clear_error():
    with pytest.raises(PretrainedWeightsError) as info:
        load_pretrained(paddle.nn.Linear(2, 2), UNREACHABLE, key="model.backbone.pretrained")
    text = str(info.value)
    assert UNREACHABLE in text
    assert "--opts model.backbone.pretrained=/path/to/model.pdparams" in text
    assert "--opts model.backbone.pretrained=null" in text


def test_missing_local_pretrained_names_file_and_key(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_pretrained(paddle.nn.Linear(2, 2), str(tmp_path / "w.pdparams"),
                        key="model.pretrained")
    assert "w.pdparams" in str(info.value) and "model.pretrained" in str(info.value)
    assert load_pretrained(paddle.nn.Linear(2, 2), None) is None


def test_nonfinite_keys_exact_on_hand_made_tensors():
    from paddleseg_panoptic.utils.weights import describe_nonfinite, nonfinite_keys
    big = np.float32(3e38)
    state = {
        "ok": paddle.to_tensor([1.0, -2.0]),
        "nan": paddle.to_tensor([1.0, float("nan")]),
        "overflowing_sum": paddle.to_tensor([big, big]),  # finite, though its sum is inf
        "minus_inf": np.array([[0.0, -np.inf]], dtype=np.float32),
        "ints": paddle.to_tensor([1, 2]),
        "empty": paddle.zeros([0]),
        "plus_and_minus_inf": paddle.to_tensor([float("inf"), float("-inf")]),  # sum is nan
    }
    bad = nonfinite_keys(state)
    assert bad == ["nan", "minus_inf", "plus_and_minus_inf"]
    assert describe_nonfinite(bad + ["a", "b"], 9, "f.pdparams") == (
        "5 of 9 tensors of f.pdparams are not finite (NaN or inf), e.g. nan, minus_inf, "
        "plus_and_minus_inf (and 2 more)")
    assert nonfinite_keys(paddle.nn.Linear(2, 3)) == []
