"""End to end on the toy Cityscapes: the dataset's raw labels, our evaluators and the official
scripts (reading the toy's labelIds / instanceIds PNGs) see the same ground truth."""
import numpy as np
import pytest

from paddleseg_panoptic.datasets.cityscapes_panoptic import CityscapesPanoptic
from paddleseg_panoptic.datasets.meta import NUM_CLASSES, THING_LIST
from paddleseg_panoptic.evaluation.official import OfficialWriter
from paddleseg_panoptic.evaluation.panoptic import PanopticEvaluator
from paddleseg_panoptic.evaluation.semantic import SemanticEvaluator


def predictions(dataset, perturb):
    rng = np.random.default_rng(1)
    for i, record in enumerate(dataset.records):
        sample = dataset[i]
        gt_sem, gt_pan = sample['raw_semantic'], sample['raw_panoptic']
        # Cityscapes numbers instances from 0 (class * 1000 + 0 is an instance) while
        # post-processing numbers them from 1, and k = 0 is no instance for the AP evaluators.
        pan = np.where(gt_pan >= 1000, gt_pan + 1, gt_pan)
        sem = np.where(gt_sem == 255, 0, gt_sem)
        if perturb:
            instances = np.unique(pan[(pan >= 1000) & (pan != 255)])
            if instances.size:
                pan[pan == instances[0]] = 0               # an instance missed
            pan[5:25, 5:45] = 13999                        # a spurious car
            noise = rng.random(pan.shape) < 0.05
            pan[noise] = rng.integers(0, 11, noise.sum())  # stray stuff pixels
            sem = np.where(pan == 255, sem, np.where(pan < 1000, pan, pan // 1000))
        scores = {int(v): 0.5 + 0.001 * (v % 1000) for v in np.unique(pan) if v >= 1000}
        yield record['image_id'], pan, sem, scores, gt_pan, gt_sem


@pytest.mark.parametrize('perturb', [False, True])
def test_toy_dataset_official_equals_ours(toy_cityscapes_root, tmp_path, perturb):
    dataset = CityscapesPanoptic([], dataset_root=toy_cityscapes_root, mode='val')
    writer = OfficialWriter(str(tmp_path / 'official'), toy_cityscapes_root, 'val')
    pan_eval = PanopticEvaluator(NUM_CLASSES, THING_LIST)
    sem_eval = SemanticEvaluator(NUM_CLASSES)
    for image_id, pan, sem, scores, gt_pan, gt_sem in predictions(dataset, perturb):
        writer.add(image_id, pan, sem, scores)
        pan_eval.update(pan, gt_pan)
        sem_eval.update(sem, gt_sem)
    official = writer.run()
    ours = dict(pan_eval.evaluate(), **sem_eval.evaluate())
    for group in ('All', 'Things', 'Stuff'):
        for key in ('pq', 'sq', 'rq', 'n'):
            assert ours['pan_seg'][group][key] == pytest.approx(
                official['pan_seg'][group][key], abs=1e-6), (group, key)
    assert ours['sem_seg']['mIoU'] == pytest.approx(official['mIoU'], abs=1e-6)
    if perturb:
        assert official['PQ'] < 0.9 and official['mIoU'] < 95 and official['AP'] < 100
    else:
        assert official['PQ'] == pytest.approx(1.0) and official['mIoU'] == pytest.approx(100)
        assert official['AP'] == pytest.approx(100.0)
