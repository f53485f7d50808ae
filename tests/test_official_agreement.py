"""Our evaluators against the official cityscapesScripts on the same predictions.

PQ / SQ / RQ (All, Things, Stuff, per class) and mIoU must agree to 1e-6. AP agrees where the
two definitions coincide (no crowd region, no instance under 100 px, no instance of an ignored
class) and differs, as documented, where they do not.
"""
import numpy as np
import pytest

from paddleseg_panoptic.datasets.meta import NUM_CLASSES, THING_LIST
from paddleseg_panoptic.evaluation.instance import InstanceEvaluator
from paddleseg_panoptic.evaluation.official import OfficialWriter
from paddleseg_panoptic.utils.panoptic_ids import panoptic_instance_scores
from paddleseg_panoptic.evaluation.panoptic import PanopticEvaluator
from paddleseg_panoptic.evaluation.semantic import SemanticEvaluator

from test_official_writer import gt_root, perfect, perturbed  # noqa: F401  (fixture)

OVERLAPS = np.arange(0.5, 1.0, 0.05)


def softmax_for(pan, scores):
    """A [C, H, W] 'softmax' whose class mean over each instance mask is that instance's score."""
    softmax = np.zeros((NUM_CLASSES,) + pan.shape)
    for value, score in scores.items():
        softmax[value // 1000][pan == value] = score
    return softmax


def raw_instance(raw_panoptic):
    """raw_instance (docs/data.md): 1, 2, ... in ascending id order for the instance segments."""
    ids = np.unique(raw_panoptic[(raw_panoptic >= 1000) & (raw_panoptic != 255)])
    out = np.zeros(raw_panoptic.shape, np.int64)
    for k, value in enumerate(ids, start=1):
        out[raw_panoptic == value] = k
    return out


def evaluate_both(tmp_path, root, labels, preds):
    writer = OfficialWriter(str(tmp_path / 'official'), root, 'val')
    pan_eval = PanopticEvaluator(NUM_CLASSES, THING_LIST)
    sem_eval = SemanticEvaluator(NUM_CLASSES)
    ins_eval = InstanceEvaluator(NUM_CLASSES, overlaps=OVERLAPS, thing_list=THING_LIST)
    for image_id, (pan, sem, scores) in preds.items():
        gt_semantic, gt_panoptic = labels[image_id]
        softmax = softmax_for(pan, scores)
        writer.add(image_id, pan, sem, panoptic_instance_scores(pan, softmax))
        pan_eval.update(pan, gt_panoptic)
        sem_eval.update(sem, gt_semantic)
        ins_eval.update_maps(softmax, pan, gt_semantic, raw_instance(gt_panoptic),
                             ignore_mask=gt_semantic == 255)
    ours = {}
    for evaluator in (pan_eval, sem_eval, ins_eval):
        ours.update(evaluator.evaluate())
    return ours, writer.run()


def test_pq_and_miou_equal_the_official(gt_root, tmp_path):  # noqa: F811
    root, labels = gt_root
    ours, official = evaluate_both(tmp_path, root, labels, perturbed(labels))
    for group in ('All', 'Things', 'Stuff'):
        for key in ('pq', 'sq', 'rq'):
            assert ours['pan_seg'][group][key] == pytest.approx(
                official['pan_seg'][group][key], abs=1e-6), (group, key)
        assert ours['pan_seg'][group]['n'] == official['pan_seg'][group]['n']
    for c, want in official['pan_seg']['per_class'].items():
        for key in ('pq', 'sq', 'rq'):
            assert ours['pan_seg']['per_class'][c][key] == pytest.approx(want[key], abs=1e-6)
    assert ours['sem_seg']['mIoU'] == pytest.approx(official['mIoU'], abs=1e-6)
    assert set(ours['sem_seg']['IoU']) == set(official['sem_seg']['IoU'])
    for c, iou in ours['sem_seg']['IoU'].items():
        assert iou == pytest.approx(official['sem_seg']['IoU'][c], abs=1e-6)
    # Not a trivial agreement: the prediction is far from perfect.
    assert 0.3 < official['PQ'] < 0.95 and 20 < official['mIoU'] < 95
    # Official AP is computed; here it differs from ours (crowd, small and caravan cases).
    assert 0 < official['AP'] < 100 and 0 < official['AP50'] < 100
    assert abs(ours['ins_seg']['mAP'] - official['AP']) > 1


def test_ap_equals_the_official_where_definitions_coincide(gt_root, tmp_path):  # noqa: F811
    root, labels = gt_root
    # bochum_000000_000313: no crowd, every instance >= 100 px, no ignored-class instance.
    preds = {k: v for k, v in perturbed(labels).items() if k.startswith('bochum')}
    ours, official = evaluate_both(tmp_path, root, labels, preds)
    assert ours['ins_seg']['AP'] == pytest.approx(official['ins_seg']['AP'], abs=1e-6)
    assert ours['ins_seg']['AP50'] == pytest.approx(official['ins_seg']['AP50'], abs=1e-6)
    assert ours['ins_seg']['mAP'] == pytest.approx(official['AP'], abs=1e-6)
    assert 0 < official['AP'] < 100


def test_ap_differences_are_the_documented_ones(gt_root, tmp_path):  # noqa: F811
    """Perfect masks (score 0.75) plus a person over the whole crowd region (score 0.875).

    Official: the crowd prediction is ignored and the 70 px car is no ground truth, so every
    class scores 100. Ours: the crowd prediction is a false positive, and the 70 px car is
    ground truth (found).
    """
    root, labels = gt_root
    preds = perfect(labels)
    for _, _, scores in preds.values():
        # Binary fractions: their mean over a mask is exact, so the true entries tie.
        scores.update({k: 0.75 for k in scores})
    pan, _, scores = preds['aachen_000000_000019']
    pan[20:36, 90:100] = 11007
    scores[11007] = 0.875
    ours, official = evaluate_both(tmp_path, root, labels, preds)
    assert official['ins_seg']['AP'] == pytest.approx({11: 100.0, 12: 100.0, 13: 100.0,
                                                        18: 100.0})
    # Ours, person: entries (true 0.75) x 2 and (false 0.875), no miss. Points by ascending
    # score: t=0.75: tp 2, fp 1 -> (r 1, p 2/3); t=0.875: tp 0 -> (r 0, p 0); then (0, 1).
    # AP = 2/3 * (1 - 0) / 2 + 0 * (1 - 0) / 2 + 1 * (0 - 0) / 2 = 1/3.
    assert ours['ins_seg']['AP'][11] == pytest.approx(100 / 3)
    assert ours['ins_seg']['AP'][13] == pytest.approx(100.0)  # the 70 px car counts, found
    # PQ ignores the crowd prediction in both.
    assert ours['pan_seg']['All']['pq'] == pytest.approx(official['PQ'], abs=1e-6)
    assert official['PQ'] == pytest.approx(1.0)
