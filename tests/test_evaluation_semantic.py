"""SemanticEvaluator: hand-computed cases, a slow reference, merge."""
import numpy as np
import pytest

from paddleseg_panoptic.evaluation.semantic import SemanticEvaluator


def test_hand_made_metrics_and_mean_accuracy_by_ground_truth_pixels():
    # Pixel pairs (gt -> pred): 0->0, 0->1, 0->1, 1->1, 2->2, 2->1, and a void pixel predicted
    # as class 3 (class 3 must not count as "present": it is only predicted on void).
    gt = np.array([[0, 0, 0, 1], [2, 2, 255, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 1, 3, 0]])
    ev = SemanticEvaluator(4)
    ev.update(pred, gt)
    res = ev.evaluate()["sem_seg"]
    # IoU: class 0 = 1/3 (tp 1, gt 3, pred 1); class 1 = 1/4 (tp 1, gt 1, pred 4);
    # class 2 = 1/2 (tp 1, gt 2, pred 1).
    assert res["mIoU"] == pytest.approx(100 * (1 / 3 + 1 / 4 + 1 / 2) / 3)
    assert sorted(res["IoU"]) == [0, 1, 2]
    # Accuracy per class = correct / ground-truth pixels: 1/3, 1/1, 1/2. (Dividing by
    # predicted pixels, as the reference did, would give 1/1, 1/4, 1/1 -> 75.)
    assert res["mACC"] == pytest.approx(100 * (1 / 3 + 1 + 1 / 2) / 3)
    assert res["pACC"] == pytest.approx(50.0)
    assert res["fwIoU"] == pytest.approx(100 * (3 / 3 + 1 / 4 + 2 / 2) / 6)


def test_perfect_prediction_is_100_and_empty_is_0():
    gt = np.array([[0, 1], [2, 255]])
    ev = SemanticEvaluator(3)
    assert ev.evaluate()["sem_seg"]["mIoU"] == 0.0
    ev.update(np.array([[0, 1], [2, 1]]), gt)
    res = ev.evaluate()["sem_seg"]
    assert (res["mIoU"], res["fwIoU"], res["mACC"], res["pACC"]) == (100.0,) * 4


def test_class_only_in_prediction_counts_in_miou_not_in_macc():
    ev = SemanticEvaluator(3)
    ev.update(np.array([[0, 2]]), np.array([[0, 0]]))
    res = ev.evaluate()["sem_seg"]
    assert res["IoU"] == {0: 50.0, 2: 0.0}
    assert res["mIoU"] == 25.0
    assert res["ACC"] == {0: 50.0}


def slow_semantic(pairs, num_classes, ignore=255):
    """Per-class mask implementation of the definitions."""
    tp = np.zeros(num_classes)
    gt_n = np.zeros(num_classes)
    pred_n = np.zeros(num_classes)
    for pred, gt in pairs:
        valid = gt != ignore
        for c in range(num_classes):
            tp[c] += np.sum((gt == c) & (pred == c) & valid)
            gt_n[c] += np.sum((gt == c) & valid)
            pred_n[c] += np.sum((pred == c) & valid)
    iou = [tp[c] / (gt_n[c] + pred_n[c] - tp[c]) for c in range(num_classes)
           if gt_n[c] + pred_n[c] > 0]
    acc = [tp[c] / gt_n[c] for c in range(num_classes) if gt_n[c] > 0]
    fw = sum(tp[c] / (gt_n[c] + pred_n[c] - tp[c]) * gt_n[c]
             for c in range(num_classes) if gt_n[c] > 0) / gt_n.sum()
    return {"mIoU": 100 * np.mean(iou), "mACC": 100 * np.mean(acc),
            "pACC": 100 * tp.sum() / gt_n.sum(), "fwIoU": 100 * fw}


def random_pairs(seed, count=6, num_classes=5):
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        gt = rng.integers(0, num_classes, size=(9, 11))
        gt[rng.random(gt.shape) < 0.15] = 255
        pred = np.where(rng.random(gt.shape) < 0.6, np.where(gt == 255, 0, gt),
                        rng.integers(0, num_classes, size=gt.shape))
        pairs.append((pred, gt))
    return pairs


@pytest.mark.parametrize("seed", range(5))
def test_random_equals_slow_and_merge_equals_one_pass(seed):
    pairs = random_pairs(seed)
    one = SemanticEvaluator(5)
    first, second = SemanticEvaluator(5), SemanticEvaluator(5)
    for k, (pred, gt) in enumerate(pairs):
        one.update(pred, gt)
        (first if k < 3 else second).update(pred, gt)
    res = one.evaluate()["sem_seg"]
    expected = slow_semantic(pairs, 5)
    for key, value in expected.items():
        assert res[key] == pytest.approx(value, abs=1e-9), key
    assert first.merge(second).evaluate() == one.evaluate()


def test_prediction_out_of_range_on_void_is_ignored():
    ev = SemanticEvaluator(2)
    ev.update(np.array([[255, 1, -1]]), np.array([[255, 1, 255]]))
    np.testing.assert_array_equal(ev.confusion, [[0, 0], [0, 1]])


def test_bad_input_errors():
    ev = SemanticEvaluator(3)
    with pytest.raises(ValueError, match="shape"):
        ev.update(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="pred holds label 7"):
        ev.update(np.array([[7]]), np.array([[0]]))
    with pytest.raises(TypeError, match="integer"):
        ev.update(np.zeros((1, 1)), np.zeros((1, 1), int))
    with pytest.raises(ValueError, match="merge"):
        ev.merge(SemanticEvaluator(4))
