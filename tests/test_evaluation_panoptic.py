"""PanopticEvaluator: hand-computed cases, a slow per-mask reference, merge."""
import numpy as np
import pytest

from paddleseg_panoptic.evaluation.panoptic import PanopticEvaluator

# Classes 0, 1 are stuff; 2, 3 are things. Void is 255, instances are class * 1000 + k.
THINGS = [2, 3]


def evaluate(pairs, num_classes=4):
    ev = PanopticEvaluator(num_classes, THINGS)
    for pred, gt in pairs:
        ev.update(np.array(pred), np.array(gt))
    return ev.evaluate()["pan_seg"]


def test_perfect_prediction():
    gt = [[0, 0, 2001, 2001], [1, 1, 2002, 255]]
    res = evaluate([(gt, gt)])
    assert res["All"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": 3}
    assert res["Things"]["n"] == 1 and res["Stuff"]["n"] == 2
    assert res["per_class"][2] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "tp": 2, "fp": 0, "fn": 0}
    assert res["per_class"][3] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "tp": 0, "fp": 0, "fn": 0}


def test_missed_instance_is_a_false_negative():
    gt = [[2001, 2001, 2002, 2002]]
    pred = [[2001, 2001, 255, 255]]
    cls = evaluate([(pred, gt)])["per_class"][2]
    assert (cls["tp"], cls["fp"], cls["fn"]) == (1, 0, 1)
    assert cls["pq"] == pytest.approx(1 / 1.5)   # IoU 1 / (TP + FN / 2)
    assert cls["sq"] == 1.0


def test_false_positive_mostly_on_void_is_not_counted():
    gt = [[0, 0, 255, 255, 255, 0, 0, 0]]
    # Segment 2001: 2 of 3 pixels on void -> forgiven. Segment 2002: 1 of 2 pixels on void,
    # exactly half, which is not "more than half" -> a false positive.
    pred = [[0, 2001, 2001, 2001, 2002, 2002, 0, 0]]
    res = evaluate([(pred, gt)])["per_class"][2]
    assert (res["tp"], res["fp"], res["fn"]) == (0, 1, 0)


def test_union_leaves_out_prediction_pixels_on_void():
    # gt car has 3 pixels; the prediction covers them plus 3 void pixels: IoU = 3 / 3.
    gt = [[2001, 2001, 2001, 255, 255, 255]]
    pred = [[2001] * 6]
    res = evaluate([(pred, gt)])["per_class"][2]
    assert (res["tp"], res["sq"]) == (1, 1.0)


def test_crowd_region_never_matches_and_forgives_predictions_on_it():
    # gt: a crowd region of class 2 (value 2) and a crowd region of class 3 (value 3).
    gt = [[2, 2, 2, 2, 3, 3, 0, 0]]
    # 2001 covers the class-2 crowd exactly: a crowd never matches (no TP), gives no FN, and a
    # prediction mostly on the crowd of its own class is no FP. Same for 3001 on class-3 crowd.
    pred = [[2001, 2001, 2001, 2001, 3001, 0, 0, 0]]
    res = evaluate([(pred, gt)])["per_class"]
    assert [(res[c]["tp"], res[c]["fp"], res[c]["fn"]) for c in (2, 3)] == [(0, 0, 0)] * 2
    # 3001 on the class-2 crowd is not forgiven (crowd of another class): FP for class 3.
    pred = [[3001, 3001, 2001, 2001, 0, 0, 0, 0]]
    res = evaluate([(pred, gt)])["per_class"]
    assert (res[3]["fp"], res[2]["fp"]) == (1, 0)


def test_iou_exactly_half_is_not_a_match():
    gt = [[2001, 2001, 2001, 2001, 0, 0]]
    pred = [[2001, 2001, 0, 0, 0, 0]]     # IoU 2 / 4 = 0.5
    res = evaluate([(pred, gt)])["per_class"][2]
    assert (res["tp"], res["fp"], res["fn"]) == (0, 1, 1)
    pred = [[2001, 2001, 2001, 0, 0, 0]]  # IoU 3 / 4
    res = evaluate([(pred, gt)])["per_class"][2]
    assert (res["tp"], res["fp"], res["fn"]) == (1, 0, 0)
    assert res["pq"] == 0.75


def test_class_only_in_prediction_counts_with_zero():
    gt = [[0, 0, 0, 0]]
    pred = [[0, 0, 0, 1]]
    res = evaluate([(pred, gt)])
    assert res["per_class"][1]["fp"] == 1
    assert res["Stuff"]["n"] == 2
    assert res["Stuff"]["pq"] == pytest.approx(0.5 * (0.75 + 0.0))


def test_empty_things_group_reports_zero_with_n_zero():
    gt = [[0, 0, 1, 1]]
    res = evaluate([(gt, gt)])
    assert res["Things"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
    assert res["Stuff"]["pq"] == 1.0
    assert evaluate([])["All"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}


def test_bad_input_errors():
    ev = PanopticEvaluator(4, THINGS)
    with pytest.raises(ValueError, match="shape"):
        ev.update(np.zeros((2, 2), int), np.zeros((3, 2), int))
    with pytest.raises(ValueError, match="segment id 9001"):
        ev.update(np.array([[9001]]), np.array([[0]]))
    with pytest.raises(ValueError, match="merge"):
        ev.merge(PanopticEvaluator(4, [3]))


# ------------------------------------------------------------------ slow reference version
def slow_panoptic(pairs, num_classes, things, ignore=255, div=1000):
    iou = np.zeros(num_classes)
    tp = np.zeros(num_classes, int)
    fp = np.zeros(num_classes, int)
    fn = np.zeros(num_classes, int)

    def cls(v):
        return v // div if v > div else v

    for pred, gt in pairs:
        void = gt == ignore
        gt_ids = [v for v in np.unique(gt) if v != ignore]
        pred_ids = [v for v in np.unique(pred) if v != ignore]
        gt_hit, pred_hit = set(), set()
        for g in gt_ids:
            if g in things:
                continue
            for p in pred_ids:
                if cls(g) != cls(p):
                    continue
                gm, pm = gt == g, pred == p
                inter = np.sum(gm & pm)
                union = gm.sum() + pm.sum() - inter - np.sum(pm & void)
                if inter / union > 0.5:
                    tp[cls(g)] += 1
                    iou[cls(g)] += inter / union
                    gt_hit.add(g)
                    pred_hit.add(p)
        for g in gt_ids:
            if g not in gt_hit and g not in things:
                fn[cls(g)] += 1
        for p in pred_ids:
            if p in pred_hit:
                continue
            pm = pred == p
            ignored = np.sum(pm & (void | (gt == cls(p)) & np.isin(cls(p), things)))
            if ignored / pm.sum() <= 0.5:
                fp[cls(p)] += 1

    def group(classes):
        vals = []
        for c in classes:
            if tp[c] + fp[c] + fn[c] == 0:
                continue
            d = tp[c] + fp[c] / 2 + fn[c] / 2
            vals.append((iou[c] / d, iou[c] / tp[c] if tp[c] else 0.0, tp[c] / d))
        if not vals:
            return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
        m = np.mean(vals, axis=0)
        return {"pq": m[0], "sq": m[1], "rq": m[2], "n": len(vals)}

    return {"All": group(range(num_classes)),
            "Things": group([c for c in range(num_classes) if c in things]),
            "Stuff": group([c for c in range(num_classes) if c not in things])}


def random_panoptic_pair(rng, shape=(16, 20), num_classes=5, things=(3, 4)):
    """Ground truth of random rectangles, prediction = ground truth with random repaints."""
    stuff = [c for c in range(num_classes) if c not in things]
    gt = np.full(shape, stuff[0], dtype=np.int64)
    for _ in range(rng.integers(3, 9)):
        kind = rng.random()
        if kind < 0.35:
            value = int(rng.choice(stuff))
        elif kind < 0.5:
            value = int(rng.choice(things))             # crowd
        elif kind < 0.6:
            value = 255
        else:
            value = int(rng.choice(things)) * 1000 + int(rng.integers(1, 4))
        y, x = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
        h, w = rng.integers(2, 9), rng.integers(2, 9)
        gt[y:y + h, x:x + w] = value
    pred = gt.copy()
    pred[pred < 1000] = np.where(np.isin(pred[pred < 1000], things), stuff[-1],
                                 pred[pred < 1000])
    for _ in range(rng.integers(1, 6)):
        choices = list(np.unique(gt)) + [int(rng.choice(things)) * 1000 + 7, stuff[1]]
        value = int(rng.choice(choices))
        if value in things:
            value = value * 1000 + 5
        y, x = rng.integers(0, shape[0] - 1), rng.integers(0, shape[1] - 1)
        h, w = rng.integers(1, 7), rng.integers(1, 7)
        pred[y:y + h, x:x + w] = value
    return pred, gt


@pytest.mark.parametrize("seed", range(10))
def test_random_equals_slow_and_merge_equals_one_pass(seed):
    rng = np.random.default_rng(seed)
    pairs = [random_panoptic_pair(rng) for _ in range(8)]
    one = PanopticEvaluator(5, (3, 4))
    first, second = PanopticEvaluator(5, (3, 4)), PanopticEvaluator(5, (3, 4))
    for k, (pred, gt) in enumerate(pairs):
        one.update(pred, gt)
        (first if k % 2 else second).update(pred, gt)
    res = one.evaluate()["pan_seg"]
    expected = slow_panoptic(pairs, 5, (3, 4))
    for group in ("All", "Things", "Stuff"):
        assert res[group]["n"] == expected[group]["n"]
        for key in ("pq", "sq", "rq"):
            assert res[group][key] == pytest.approx(expected[group][key], abs=1e-12)
    merged = first.merge(second)
    np.testing.assert_array_equal(merged.tp, one.tp)
    np.testing.assert_array_equal(merged.fp, one.fp)
    np.testing.assert_array_equal(merged.fn, one.fn)
    np.testing.assert_allclose(merged.iou, one.iou, rtol=0, atol=1e-12)
    # The random cases exercise matches, misses and false positives.
    assert one.tp.sum() > 0 and one.fn.sum() > 0 and one.fp.sum() > 0
