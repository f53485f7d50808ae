"""Hand-computed values for the Panoptic-DeepLab loss (docs/training.md, "Losses")."""
import math

import numpy as np
import paddle
import pytest
from paddleseg.models.losses import CrossEntropyLoss, L1Loss, MSELoss

from paddleseg_panoptic.losses import PanopticLoss, build_panoptic_loss

REFERENCE_LOSS_CFG = {
    "types": [{"type": "CrossEntropyLoss", "top_k_percent_pixels": 0.2},
              {"type": "MSELoss", "reduction": "none"},
              {"type": "L1Loss", "reduction": "none"}],
    "coef": [1, 200, 0.001],
}


def _t(array, dtype="float32"):
    return paddle.to_tensor(np.asarray(array, dtype=dtype))


def _batch(n=2, h=1, w=5):
    return {
        "semantic": _t(np.zeros((n, h, w)), "int64"),
        "semantic_weights": _t(np.ones((n, h, w))),
        "center": _t(np.zeros((n, 1, h, w))),
        "center_weights": _t(np.zeros((n, h, w))),
        "offset": _t(np.zeros((n, 2, h, w))),
        "offset_weights": _t(np.zeros((n, h, w))),
    }


def _outputs(n=2, c=2, h=1, w=5):
    return [_t(np.zeros((n, c, h, w))), _t(np.zeros((n, 1, h, w))), _t(np.zeros((n, 2, h, w)))]


def test_semantic_top_k_over_whole_batch_with_weights_and_ignore():
    # All logits 0 with 2 classes: every labelled pixel has cross entropy ln 2.
    # 2 images x 5 pixels -> k = int(0.2 * 10) = 2 largest over the whole batch.
    batch = _batch()
    weights = np.ones((2, 1, 5), "float32")
    weights[0, 0, 0] = 3.0   # 3 ln2
    weights[0, 0, 1] = 2.0   # 2 ln2
    weights[1, 0, 2] = 5.0   # but ignored below -> 0
    labels = np.zeros((2, 1, 5), "int64")
    labels[1, 0, 2] = 255
    batch["semantic_weights"] = _t(weights)
    batch["semantic"] = _t(labels, "int64")
    loss = build_panoptic_loss(REFERENCE_LOSS_CFG)(_outputs(), batch)
    # Batch-wide top-2: (3 ln2 + 2 ln2) / 2. A per-image top-k would give (3 ln2 + ln2) / 2.
    expected = 2.5 * math.log(2.0)
    assert float(loss["semantic"]) == pytest.approx(expected, rel=1e-6)
    assert float(loss["center"]) == 0.0 and float(loss["offset"]) == 0.0
    assert float(loss["total"]) == pytest.approx(expected, rel=1e-6)


def test_center_weighted_mse_times_coef():
    # 2 x 3 images: paddleseg's top-k needs int(0.2 * pixels) >= 1; the third column is unweighted.
    batch = _batch(n=1, h=2, w=3)
    outputs = _outputs(n=1, h=2, w=3)
    outputs[1] = _t(np.array([[[[1.0, 2.0, 7.0], [3.0, 4.0, 7.0]]]]))
    batch["center_weights"] = _t(np.array([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]]))
    loss = build_panoptic_loss(REFERENCE_LOSS_CFG)(outputs, batch)
    # squared errors 1, 4, 9, 16; weighted sum 1*1 + 2*16 = 33; weight sum 3 -> 11; x 200.
    assert float(loss["center"]) == pytest.approx(2200.0, rel=1e-6)


def test_offset_plain_l1_keeps_targets_equal_to_255():
    batch = _batch(n=1, h=2, w=3)
    batch["offset"] = _t(np.array([[[[255.0, 1.0, 9.0], [2.0, 3.0, 9.0]],
                                    [[1.0, 1.0, 9.0], [1.0, 1.0, 9.0]]]]))
    batch["offset_weights"] = _t(np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]))
    loss = build_panoptic_loss(REFERENCE_LOSS_CFG)(_outputs(n=1, h=2, w=3), batch)
    # dy errors on weighted pixels: 255 and 3; dx errors: 1 and 1 -> 260.
    # Broadcast weights sum to 2 pixels x 2 channels = 4 -> 65; x 0.001.
    assert float(loss["offset"]) == pytest.approx(0.065, rel=1e-6)
    # paddleseg's own L1Loss would have dropped the 255 target: guard against regressing to it.
    masked = L1Loss(reduction="none")(_outputs(n=1, h=2, w=3)[2], batch["offset"])
    # dy: 1 + 2 + 3 (255 dropped), dx: 4 x 1, third column: 4 x 9.
    assert float(masked.sum()) == pytest.approx(6.0 + 4.0 + 36.0)


def test_zero_weights_give_exact_zero_and_finite_gradients():
    batch = _batch(n=1, h=2, w=3)
    batch["center"] = _t(np.ones((1, 1, 2, 3)))
    batch["offset"] = _t(np.ones((1, 2, 2, 3)))
    outputs = _outputs(n=1, h=2, w=3)
    for out in outputs:
        out.stop_gradient = False
    loss = build_panoptic_loss(REFERENCE_LOSS_CFG)(outputs, batch)
    assert float(loss["center"]) == 0.0
    assert float(loss["offset"]) == 0.0
    loss["total"].backward()
    for out in outputs[1:]:
        grad = out.grad.numpy()
        assert np.all(np.isfinite(grad)) and np.all(grad == 0)


def test_total_is_sum_of_parts_with_built_layers():
    rng = np.random.RandomState(0)
    n, c, h, w = 2, 3, 4, 5
    outputs = [_t(rng.randn(n, c, h, w)), _t(rng.randn(n, 1, h, w)), _t(rng.randn(n, 2, h, w))]
    batch = {
        "semantic": _t(rng.randint(0, c, (n, h, w)), "int64"),
        "semantic_weights": _t(rng.choice([1.0, 3.0], (n, h, w))),
        "center": _t(rng.rand(n, 1, h, w)),
        "center_weights": _t(rng.randint(0, 2, (n, h, w))),
        "offset": _t(rng.randn(n, 2, h, w)),
        "offset_weights": _t(rng.randint(0, 2, (n, h, w))),
    }
    loss_fn = PanopticLoss([CrossEntropyLoss(top_k_percent_pixels=0.2), MSELoss(reduction="none"),
                            L1Loss(reduction="none")], [1, 200, 0.001])
    loss = loss_fn(outputs, batch)
    # Slow obvious version in numpy.
    logits = outputs[0].numpy().transpose(0, 2, 3, 1).reshape(-1, c)
    labels = batch["semantic"].numpy().reshape(-1)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ce = -logp[np.arange(labels.size), labels] * batch["semantic_weights"].numpy().reshape(-1)
    k = int(0.2 * labels.size)
    semantic = np.sort(ce)[::-1][:k].mean()
    cw = batch["center_weights"].numpy()[:, None]
    center = ((outputs[1].numpy() - batch["center"].numpy()) ** 2 * cw).sum() / cw.sum()
    ow = np.repeat(batch["offset_weights"].numpy()[:, None], 2, axis=1)
    offset = (np.abs(outputs[2].numpy() - batch["offset"].numpy()) * ow).sum() / ow.sum()
    assert float(loss["semantic"]) == pytest.approx(semantic, rel=1e-5)
    assert float(loss["center"]) == pytest.approx(200 * center, rel=1e-5)
    assert float(loss["offset"]) == pytest.approx(0.001 * offset, rel=1e-5)
    assert float(loss["total"]) == pytest.approx(
        float(loss["semantic"]) + float(loss["center"]) + float(loss["offset"]), rel=1e-6)


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="3 entries"):
        PanopticLoss([CrossEntropyLoss(), MSELoss(reduction="none")], [1, 200])
    with pytest.raises(ValueError, match="offset loss .*reduction: none"):
        PanopticLoss([CrossEntropyLoss(), MSELoss(reduction="none"), L1Loss()], [1, 200, 0.001])
    with pytest.raises(KeyError, match="coef"):
        build_panoptic_loss({"types": REFERENCE_LOSS_CFG["types"]})
    with pytest.raises(KeyError, match="NoSuchLoss"):
        build_panoptic_loss({"types": [{"type": "NoSuchLoss"}] * 3, "coef": [1, 1, 1]})
