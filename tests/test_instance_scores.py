"""Instance score modes: hand-computed values, their effect on AP, the segments JSON and the
evaluation results."""
import numpy as np
import pytest

from paddleseg_panoptic.core.evaluate import evaluate
from paddleseg_panoptic.core.predict import segments_document
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.evaluation.instance import (InstanceEvaluator, instance_scores,
                                                    panoptic_instance_scores)
from evaluation_toys import OracleModel, TinyDataset

# Two instances on a 4 x 5 map: 2001 (an L shape) and 3001 (a column); 0 is stuff.
PANOPTIC = np.array([[2001, 0, 0, 0, 3001],
                     [2001, 0, 0, 0, 3001],
                     [2001, 2001, 2001, 0, 3001],
                     [0, 0, 0, 0, 3001]])
SOFTMAX = np.zeros((4, 4, 5), np.float32)
SOFTMAX[2] = 0.5
SOFTMAX[2, 0, 0] = 0.9       # class 2 over 2001's five pixels: 0.9 + 4 * 0.5 -> mean 0.58
SOFTMAX[3, :, 4] = [0.2, 0.4, 0.6, 0.8]                      # class 3 over 3001: mean 0.5
HEATMAP = np.arange(20, dtype=np.float32).reshape(4, 5) / 100.0
# Centroids: 2001 rows (0+1+2+2+2)/5 = 1.4, cols (0+0+0+1+2)/5 = 0.6 -> (1, 0): 0.05;
# 3001 rows 1.5, col 4 -> (1, 4): 0.09.


def test_the_three_modes_by_hand():
    semantic = panoptic_instance_scores(PANOPTIC, SOFTMAX, HEATMAP)
    assert semantic == pytest.approx({2001: 0.58, 3001: 0.5})
    center = panoptic_instance_scores(PANOPTIC, None, HEATMAP[None], mode="center")
    assert center == pytest.approx({2001: 0.05, 3001: 0.09})
    both = panoptic_instance_scores(PANOPTIC, SOFTMAX, HEATMAP, mode="semantic_x_center")
    assert both == pytest.approx({2001: 0.58 * 0.05, 3001: 0.5 * 0.09})


def test_semantic_mode_is_the_evaluators_and_the_pictures_score():
    rng = np.random.default_rng(0)
    softmax = rng.random((4, 4, 5)).astype(np.float32)
    ev = InstanceEvaluator(4, thing_list=[2, 3])
    labels, scores, index, ids = ev._pred_instances(softmax, PANOPTIC)
    assert dict(zip(ids.tolist(), scores.tolist())) == panoptic_instance_scores(PANOPTIC, softmax)
    from paddleseg_panoptic.utils import visualize as vis
    infos = {i["id"]: i["score"] for i in vis.segments_info(PANOPTIC, softmax)}
    doc = segments_document({"panoptic": PANOPTIC, "semantic_softmax": softmax}, "x.png")
    assert {i["id"]: i["score"] for i in doc["segments_info"]} == infos
    assert doc["instance_score"] == "semantic"


def test_segments_json_uses_the_chosen_mode():
    result = {"panoptic": PANOPTIC, "semantic_softmax": SOFTMAX, "center_heatmap": HEATMAP}
    doc = segments_document(result, "x.png", DatasetFacts(), instance_score="center")
    assert doc["instance_score"] == "center"
    scores = {i["id"]: i["score"] for i in doc["segments_info"]}
    assert scores == {0: None, 2001: 0.05, 3001: 0.09}


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="instance score must be one of"):
        panoptic_instance_scores(PANOPTIC, SOFTMAX, mode="centre")
    with pytest.raises(ValueError, match="'center' needs center_heatmap"):
        panoptic_instance_scores(PANOPTIC, SOFTMAX, mode="center")
    with pytest.raises(ValueError, match="center_heatmap must be"):
        panoptic_instance_scores(PANOPTIC, SOFTMAX, HEATMAP[:2], mode="semantic_x_center")
    with pytest.raises(ValueError, match="softmax has 3 classes"):
        panoptic_instance_scores(PANOPTIC, SOFTMAX[:3])
    with pytest.raises(ValueError, match="merge"):
        InstanceEvaluator(4, instance_score="center").merge(InstanceEvaluator(4))
    # no instances: nothing to score, no map needed
    ids, _, scores, _ = instance_scores(np.zeros((2, 2), int), 1000, None, np.zeros((2, 2)),
                                        mode="center")
    assert ids.shape == scores.shape == (0,)


def test_score_mode_changes_the_ranking_and_so_ap():
    # Ground truth: one instance of class 2 on the left column. Two predictions of class 2:
    # 2001 on it (low semantic score, high centre) and 2002 elsewhere (the reverse).
    seg = np.array([[2, 0, 0], [2, 0, 0]])
    ins = np.array([[1, 0, 0], [1, 0, 0]])
    pan = np.array([[2001, 0, 2002], [2001, 0, 2002]])
    softmax = np.zeros((3, 2, 3))
    softmax[2] = [[0.3, 0, 0.9], [0.3, 0, 0.9]]
    heatmap = np.array([[0.9, 0, 0.1], [0.9, 0, 0.1]])
    results = {}
    for mode in ("semantic", "center"):
        ev = InstanceEvaluator(3, 0.5, thing_list=[2], instance_score=mode)
        scores = ev.update_maps(softmax, pan, seg, ins, center_heatmap=heatmap)
        results[mode] = ev.evaluate()["ins_seg"]["AP50"][2]
        assert scores[2001] == pytest.approx(0.3 if mode == "semantic" else 0.9)
    # the true match ranked first gives AP 100, ranked after a false one gives less
    assert results["center"] == pytest.approx(100.0)
    assert results["semantic"] < 100.0


def test_evaluation_reports_its_mode():
    res = evaluate(OracleModel(), TinyDataset(count=2), threshold=0.1, nms_kernel=3,
                   top_k=200, print_detail=False, instance_score="semantic_x_center")
    assert res["instance_score"] == "semantic_x_center"
    assert res["ins_seg"]["mAP50"] == 100.0
