"""InstanceEvaluator: hand-computed AP cases, a slow per-mask reference, merge."""
import numpy as np
import pytest

from paddleseg_panoptic.evaluation.instance import InstanceEvaluator, average_precision

AP_OVERLAPS = np.arange(0.5, 1.0, 0.05)


def mask(row):
    return np.array([row], dtype=bool)


def test_perfect_prediction_is_100():
    seg = np.array([[0, 2, 2, 3, 3]])
    ins = np.array([[0, 1, 1, 2, 2]])
    pan = np.array([[0, 2001, 2001, 3001, 3001]])
    softmax = np.full((4, 1, 5), 0.25)
    ev = InstanceEvaluator(4, AP_OVERLAPS, thing_list=[2, 3])
    ev.update_maps(softmax, pan, seg, ins, ignore_mask=seg == 255)
    res = ev.evaluate()["ins_seg"]
    assert res == {"mAP": 100.0, "AP": {2: 100.0, 3: 100.0}, "n": 2,
                   "mAP50": 100.0, "AP50": {2: 100.0, 3: 100.0}}


def test_convert_maps_follow_the_reference_conventions():
    seg = np.array([[2, 2, 3, 0]])
    ins = np.array([[1, 1, 2, 0]])
    gts = InstanceEvaluator.convert_gt_map(seg, ins)
    assert [(label, m.tolist()) for label, m in gts] == [
        (2, [[True, True, False, False]]), (3, [[False, False, True, False]])]
    softmax = np.array([[[0.1, 0.2, 0.3, 0.4]], [[0.9, 0.8, 0.7, 0.6]]])
    pan = np.array([[1001, 1001, 1000, 1]])      # 1000: multiple of the divisor, no instance
    preds = InstanceEvaluator(2).convert_pred_map(softmax, pan)
    assert len(preds) == 1
    label, score, m = preds[0]
    assert (label, m.tolist()) == (1, [[True, True, False, False]])
    assert score == pytest.approx(0.85)              # mean of class-1 probability on the mask


def test_ground_truth_label_is_the_semantic_id_of_the_first_pixel():
    # Instance 1 covers semantic ids 3 then 2 (row-major): label 3, as the reference took it.
    seg = np.array([[0, 3, 2], [2, 2, 2]])
    ins = np.array([[0, 1, 1], [1, 2, 2]])
    labels = [label for label, _ in InstanceEvaluator.convert_gt_map(seg, ins)]
    assert labels == [3, 2]


def test_missed_instance_and_iou_exactly_at_threshold():
    gt = [(2, mask([1, 1, 1, 1, 0, 0])), (2, mask([0, 0, 0, 0, 1, 1]))]
    # Prediction on the first: IoU 1. Second ground truth: prediction covering 1 of 2 pixels
    # plus nothing else -> IoU 0.5, not a match at 0.5: a miss plus a false entry.
    preds = [(2, 0.9, mask([1, 1, 1, 1, 0, 0])), (2, 0.8, mask([0, 0, 0, 0, 1, 0]))]
    ev = InstanceEvaluator(3, 0.5, thing_list=[2])
    ev.update(preds, gt)
    # Entries: (0.8, false), (0.9, true); one miss. Points: t=0.8 -> p 1/2, r 1/2;
    # t=0.9 -> p 1, r 1/2; then (r 0, p 1). Widths: 0, 1/4, 1/4 -> AP = 0.5.
    assert ev.evaluate()["ins_seg"]["AP"] == {2: 50.0}
    assert ev.misses[2, 0] == 1


def test_two_predictions_on_one_ground_truth_with_two_ground_truths():
    # Overlapping predictions can only come through the list API. The reference overwrote its
    # score array here and crashed with two ground truths of the class.
    gt = [(1, mask([1, 1, 1, 1, 0, 0, 0])), (1, mask([0, 0, 0, 0, 1, 1, 1]))]
    preds = [(1, 0.6, mask([1, 1, 1, 1, 0, 0, 0])),
             (1, 0.9, mask([1, 1, 1, 1, 0, 0, 0])),
             (1, 0.5, mask([0, 0, 0, 0, 1, 1, 1]))]
    ev = InstanceEvaluator(2, 0.5, thing_list=[1])
    ev.update(preds, gt)
    classes, _, is_true, scores = ev._entries()
    # The first ground truth keeps the higher score; the lower becomes a false entry.
    assert sorted(zip(scores.tolist(), is_true.tolist())) == [
        (0.5, True), (0.6, False), (0.9, True)]
    # Points: t=0.5 (p 2/3, r 1), t=0.6 (p 1/2, r 1/2), t=0.9 (p 1, r 1/2), (p 1, r 0);
    # widths (r[i-1] - r[i+1]) / 2 = 1/4 each -> AP = (2/3 + 1/2 + 1 + 1) / 4 = 19/24.
    assert ev.evaluate()["ins_seg"]["AP"][1] == pytest.approx(100 * 19 / 24)


def test_false_positive_mostly_on_void_is_not_an_entry():
    gt = [(1, mask([1, 1, 0, 0, 0, 0]))]
    ignore = mask([0, 0, 1, 1, 1, 0])
    preds = [(1, 0.9, mask([1, 1, 0, 0, 0, 0])),
             (1, 0.7, mask([0, 0, 1, 1, 0, 0])),      # all on void: dropped
             (1, 0.3, mask([0, 0, 0, 0, 1, 1]))]      # half on void, not more: false entry
    ev = InstanceEvaluator(2, 0.5, thing_list=[1])
    ev.update(preds, gt, ignore_mask=ignore)
    _, _, is_true, scores = ev._entries()
    assert sorted(zip(scores.tolist(), is_true.tolist())) == [(0.3, False), (0.9, True)]


def test_ap_and_ap50_from_one_table():
    # IoU 0.7: a match at 0.5, 0.55, 0.6, 0.65, not at 0.7 (0.7000000000000002) and above.
    gt = [(1, mask([1] * 10))]
    preds = [(1, 0.5, mask([1] * 7 + [0] * 3))]
    ev = InstanceEvaluator(2, AP_OVERLAPS, thing_list=[1])
    ev.update(preds, gt)
    res = ev.evaluate()["ins_seg"]
    assert res["AP"][1] == pytest.approx(40.0)
    assert res["AP50"] == {1: 100.0} and res["mAP50"] == 100.0


def test_class_without_ground_truth_has_no_ap_and_no_nan():
    # Class 2 only predicted: the reference gave nan; it gets no entry and mAP averages over
    # classes with ground truth. With no ground truth at all mAP is 0 with n = 0.
    gt = [(1, mask([1, 1, 0, 0]))]
    preds = [(1, 0.9, mask([1, 1, 0, 0])), (2, 0.8, mask([0, 0, 1, 1]))]
    ev = InstanceEvaluator(4, 0.5, thing_list=[1, 2, 3])
    ev.update(preds, gt)
    res = ev.evaluate()["ins_seg"]
    assert res["AP"] == {1: 100.0} and res["mAP"] == 100.0 and res["n"] == 1
    ev = InstanceEvaluator(4, 0.5, thing_list=[1, 2, 3])
    ev.update(preds[1:], [])
    assert ev.evaluate()["ins_seg"] == {"mAP": 0.0, "AP": {}, "n": 0, "mAP50": 0.0, "AP50": {}}


def test_average_precision_edge_cases():
    assert average_precision(np.zeros(0, bool), np.zeros(0), 3) == 0.0
    # Only false entries with misses: precision 0 at recall 0.
    assert average_precision(np.array([False]), np.array([0.4]), 1) == 0.0


def test_bad_input_errors():
    ev = InstanceEvaluator(3, 0.5, thing_list=[2])
    with pytest.raises(ValueError, match="seg_softmax"):
        ev.update_maps(np.ones((3, 2, 2)), np.zeros((2, 3), int), np.zeros((2, 3), int),
                       np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="shape"):
        ev.update([(2, 0.5, np.ones((2, 2)))], [(2, np.ones((3, 2)))])
    with pytest.raises(ValueError, match="merge"):
        ev.merge(InstanceEvaluator(3, AP_OVERLAPS, thing_list=[2]))


# ------------------------------------------------------------------ slow reference version
def slow_ap(entries, misses):
    """Literal transcription of the AP definition (loops over distinct scores)."""
    if not entries:
        return 0.0
    points = []
    for t in sorted({s for s, _ in entries}):
        tp = sum(1 for s, true in entries if true and s >= t)
        fp = sum(1 for s, true in entries if not true and s >= t)
        fn = sum(1 for s, true in entries if true and s < t) + misses
        points.append((tp / (tp + fp), tp / (tp + fn)))
    points.append((1.0, 0.0))
    r = [points[0][1]] + [p[1] for p in points] + [0.0]
    return sum(p * (r[i] - r[i + 2]) / 2 for i, (p, _) in enumerate(points))


def slow_instance(images, num_classes, things, overlaps):
    """Per-mask matching as the definition states; returns {class: [AP per overlap]}."""
    entries = {(c, t): [] for c in things for t in range(len(overlaps))}
    misses = {(c, t): 0 for c in things for t in range(len(overlaps))}
    gt_count = {c: 0 for c in things}
    for softmax, pan, seg, ins in images:
        ignore = seg == 255
        gts = []
        for i in np.unique(ins):
            if i == 0:
                continue
            m = ins == i
            gts.append((int(seg[m][0]), m))
        preds = []
        for v in np.unique(pan):
            if v < 1000 or v % 1000 == 0:
                continue
            m = pan == v
            preds.append((int(v // 1000), float(np.mean(softmax[v // 1000][m].astype(float))), m))
        for c in things:
            cg = [m for label, m in gts if label == c]
            cp = [(s, m) for label, s, m in preds if label == c]
            gt_count[c] += len(cg)
            for t, th in enumerate(overlaps):
                matched_pred = set()
                for gm in cg:
                    hits = []
                    for k, (s, pm) in enumerate(cp):
                        inter = np.sum(gm & pm)
                        if inter / (gm.sum() + pm.sum() - inter) > th:
                            hits.append(s)
                            matched_pred.add(k)
                    if not hits:
                        misses[c, t] += 1
                        continue
                    hits.sort()
                    entries[c, t].append((hits[-1], True))
                    entries[c, t].extend((s, False) for s in hits[:-1])
                for k, (s, pm) in enumerate(cp):
                    if k not in matched_pred and np.sum(pm & ignore) / pm.sum() <= th:
                        entries[c, t].append((s, False))
    return {c: [slow_ap(entries[c, t], misses[c, t]) for t in range(len(overlaps))]
            for c in things if gt_count[c]}


def random_image(rng, shape=(14, 18), num_classes=5, things=(3, 4)):
    seg = rng.integers(0, 3, size=shape)
    ins = np.zeros(shape, np.int64)
    pan = seg.copy()
    k = 0
    for _ in range(rng.integers(1, 6)):
        y, x = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
        h, w = rng.integers(2, 7), rng.integers(2, 7)
        k += 1
        cls = int(rng.choice(things))
        seg[y:y + h, x:x + w] = cls
        ins[y:y + h, x:x + w] = k
        # Prediction: the same box jittered by up to 2 pixels, sometimes of the other class.
        dy, dx = rng.integers(-2, 3, size=2)
        pcls = cls if rng.random() < 0.8 else int(rng.choice(things))
        y0, x0 = max(0, y + dy), max(0, x + dx)
        pan[y0:y0 + h + rng.integers(-1, 2), x0:x0 + w] = pcls * 1000 + k
    for _ in range(rng.integers(0, 3)):                 # a few free false positives
        y, x = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
        pan[y:y + 3, x:x + 3] = int(rng.choice(things)) * 1000 + 50 + _
    seg[rng.random(shape) < 0.1] = 255
    seg[:2, :] = 255
    ins[seg == 255] = 0
    softmax = rng.random((num_classes,) + shape).astype(np.float32)
    softmax /= softmax.sum(axis=0, keepdims=True)
    return softmax, pan, seg, ins


@pytest.mark.parametrize("seed", range(10))
def test_random_equals_slow_both_entry_points_and_merge(seed):
    rng = np.random.default_rng(seed)
    images = [random_image(rng) for _ in range(6)]
    fast = InstanceEvaluator(5, AP_OVERLAPS, thing_list=[3, 4])
    lists = InstanceEvaluator(5, AP_OVERLAPS, thing_list=[3, 4])
    halves = [InstanceEvaluator(5, AP_OVERLAPS, thing_list=[3, 4]) for _ in range(2)]
    for k, (softmax, pan, seg, ins) in enumerate(images):
        fast.update_maps(softmax, pan, seg, ins, ignore_mask=seg == 255)
        lists.update(lists.convert_pred_map(softmax, pan),
                     InstanceEvaluator.convert_gt_map(seg, ins), ignore_mask=seg == 255)
        halves[k % 2].update_maps(softmax, pan, seg, ins, ignore_mask=seg == 255)
    expected = slow_instance(images, 5, (3, 4), AP_OVERLAPS)
    table = fast.ap_table()
    assert sorted(table) == sorted(expected)
    for c in expected:
        np.testing.assert_allclose(table[c], expected[c], rtol=0, atol=1e-12)
    assert lists.evaluate() == fast.evaluate()
    assert halves[0].merge(halves[1]).evaluate() == fast.evaluate()
    res = fast.evaluate()["ins_seg"]
    assert fast.gt_count.sum() > 0 and 0.0 <= res["mAP"] <= res["mAP50"] <= 100.0


def test_random_cases_are_not_trivial():
    # The random generator yields partial scores (neither all-hit nor all-miss) in most seeds.
    values = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        ev = InstanceEvaluator(5, AP_OVERLAPS, thing_list=[3, 4])
        for softmax, pan, seg, ins in [random_image(rng) for _ in range(6)]:
            ev.update_maps(softmax, pan, seg, ins, ignore_mask=seg == 255)
        values.append(ev.evaluate()["ins_seg"]["mAP"])
    assert sum(0.0 < v < 100.0 for v in values) >= 7


def test_converted_masks_in_any_list_give_the_numbers_of_plain_masks():
    # update() reads the converters' own masks back from their index maps; lists of copies
    # (stacked mask by mask), reordered or filtered lists, masks of two calls mixed, and
    # overlapping masks (counted pair by pair) must give the same numbers as plain arrays.
    rng = np.random.default_rng(21)
    images = [random_image(rng) for _ in range(4)]

    def run(transform):
        ev = InstanceEvaluator(5, AP_OVERLAPS, thing_list=[3, 4])
        for softmax, pan, seg, ins in images:
            preds = ev.convert_pred_map(softmax, pan)
            gts = InstanceEvaluator.convert_gt_map(seg, ins)
            ev.update(*transform(preds, gts), ignore_mask=seg == 255)
        return ev.evaluate()

    def copies(preds, gts):
        return ([(c, s, np.array(m)) for c, s, m in preds], [(c, np.array(m)) for c, m in gts])

    want = run(copies)
    assert run(lambda p, g: (p, g)) == want
    assert run(lambda p, g: (p[::-1], g[::-1])) == want  # any order: same entries
    other = InstanceEvaluator.convert_gt_map(images[0][2], images[0][3])

    def mixed(preds, gts):  # one ground-truth mask of another call: stacked, same numbers
        return preds, gts[:-1] + [(gts[-1][0], np.array(gts[-1][1]))]
    assert run(mixed) == want
    softmax, pan, seg, ins = images[0]
    ev = InstanceEvaluator(5, AP_OVERLAPS, thing_list=[3, 4])
    preds = ev.convert_pred_map(softmax, pan)
    masks = [m for _, _, m in preds]
    assert masks and not any(m.flags.writeable for m in masks)
    with pytest.raises(ValueError):
        masks[0][0, 0] = True
    with pytest.raises(ValueError):
        masks[0].flags.writeable = True
    # Filtered: a subset of one call's masks, and the same filter applied to copies.
    keep = preds[::2]
    a, b = (InstanceEvaluator(5, AP_OVERLAPS, thing_list=[3, 4]) for _ in range(2))
    a.update(keep, other[:1], ignore_mask=seg == 255)
    b.update([(c, s, np.array(m)) for c, s, m in keep], [(other[0][0], np.array(other[0][1]))],
             ignore_mask=seg == 255)
    assert a.evaluate() == b.evaluate()
    # Overlapping masks: the same mask twice is not read back from the index map.
    twice = [preds[0], preds[0]]
    a, b = (InstanceEvaluator(5, AP_OVERLAPS, thing_list=[3, 4]) for _ in range(2))
    a.update(twice, other)
    b.update([(c, s, np.array(m)) for c, s, m in twice], [(c, np.array(m)) for c, m in other])
    assert a.evaluate() == b.evaluate()
