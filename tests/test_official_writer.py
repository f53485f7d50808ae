"""OfficialWriter: predictions written for, and scored by, the official cityscapesScripts.

The ground truth is a tiny hand-drawn Cityscapes tree (two 64x128 images) with every case the
official scripts treat specially: void labels, a crowd region, an instance of an ignored class
(caravan) and an instance under 100 pixels.
"""
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from paddleseg_panoptic.datasets.meta import THING_LIST, TRAIN_ID_TO_LABEL_ID
from paddleseg_panoptic.evaluation.official import OfficialWriter
from paddleseg_panoptic.utils.panoptic_ids import panoptic_instance_scores

H, W = 64, 128
# (instanceIds value, (row0, row1, col0, col1)); later boxes are drawn over earlier ones.
LAYOUTS = {
    'aachen_000000_000019': [
        (23, (0, 16, 0, 128)),          # sky
        (11, (16, 32, 0, 128)),         # building
        (21, (16, 32, 100, 128)),       # vegetation
        (7, (32, 64, 0, 128)),          # road
        (8, (56, 64, 0, 40)),           # sidewalk
        (9, (52, 56, 60, 80)),          # parking: ignored in evaluation (void)
        (1, (60, 64, 64, 128)),         # ego vehicle (void)
        (26001, (36, 50, 10, 30)),      # car, 280 px
        (26002, (38, 52, 50, 70)),      # car, 280 px
        (24001, (20, 40, 80, 88)),      # person, 160 px
        (24, (20, 36, 90, 100)),        # person crowd (no instance id)
        (26003, (40, 47, 100, 110)),    # car of 70 px: below the official 100 px minimum
        (29001, (44, 56, 112, 128)),    # caravan: an instance of an ignored class
    ],
    'bochum_000000_000313': [
        (23, (0, 20, 0, 128)),          # sky
        (11, (20, 36, 0, 128)),         # building
        (7, (36, 64, 0, 128)),          # road
        (22, (48, 64, 100, 128)),       # terrain
        (0, (0, 4, 0, 128)),            # unlabeled (void)
        (33001, (40, 60, 10, 25)),      # bicycle, 300 px
        (33002, (40, 60, 40, 50)),      # bicycle, 200 px
        (25001, (30, 50, 60, 70)),      # rider, 200 px
        (24001, (30, 50, 80, 86)),      # person, 120 px
    ],
}


def draw(layout):
    inst = np.zeros((H, W), np.int64)
    for value, (r0, r1, c0, c1) in layout:
        inst[r0:r1, c0:c1] = value
    return inst


def train_space(inst):
    """Our raw evaluation labels (docs/data.md) made from an instanceIds map."""
    label = np.where(inst >= 1000, inst // 1000, inst)
    lut = np.full(256, 255, np.int64)
    lut[list(TRAIN_ID_TO_LABEL_ID)] = np.arange(len(TRAIN_ID_TO_LABEL_ID))
    semantic = lut[label]
    panoptic = np.where((inst >= 1000) & (semantic != 255), semantic * 1000 + inst % 1000,
                        semantic)
    return semantic, panoptic


@pytest.fixture(scope='module')
def gt_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('cityscapes')
    labels = {}
    for image_id, layout in LAYOUTS.items():
        city = image_id.split('_')[0]
        folder = root / 'gtFine' / 'val' / city
        folder.mkdir(parents=True, exist_ok=True)
        inst = draw(layout)
        label_ids = np.where(inst >= 1000, inst // 1000, inst)
        cv2.imwrite(str(folder / (image_id + '_gtFine_instanceIds.png')), inst.astype(np.uint16))
        cv2.imwrite(str(folder / (image_id + '_gtFine_labelIds.png')), label_ids.astype(np.uint8))
        labels[image_id] = train_space(inst)
    return str(root), labels


def perfect(labels):
    preds = {}
    for image_id, (semantic, panoptic) in labels.items():
        sem = np.where(semantic == 255, 0, semantic)  # a network predicts something on void
        scores = {int(v): 0.9 for v in np.unique(panoptic) if v >= 1000}
        preds[image_id] = (panoptic.copy(), sem, scores)
    return preds


def perturbed(labels):
    """Errors of every kind the metrics distinguish, plus random pixel noise."""
    rng = np.random.default_rng(0)
    preds = perfect(labels)
    pan, sem, scores = preds['aachen_000000_000019']
    pan[pan == 13002] = 0                        # car 2 missed: predicted as road
    pan[40:48, 30:46] = 1                        # some road predicted as sidewalk
    pan[18:28, 10:30] = 13005                    # spurious car on the building
    pan[36:50, 30:34] = 13001                    # car 1 grown: IoU 280 / 336 > 0.5
    pan[20:40, 84:88] = 2                        # person 1 halved: IoU exactly 0.5, no match
    pan[20:34, 90:100] = 11007                   # a person on the crowd region: not an FP
    pan[58:64, 70:90] = 13006                    # a car mostly on the ego vehicle: not an FP
    scores.update({13005: 0.3, 13006: 0.2, 11007: 0.6})
    pan, sem, scores = preds['bochum_000000_000313']
    pan[40:60, 18:25] = 18004                    # bicycle 1 split in two: IoU 140 / 300 each
    pan[40:60, 40:50] = 12002                    # bicycle 2 predicted as a rider
    pan[48:64, 100:110] = 0                      # terrain partly road
    scores.update({18004: 0.5, 12002: 0.4})
    for image_id, (pan, sem, scores) in preds.items():
        stuff = pan < 1000
        sem[:] = np.where(pan == 255, sem, np.where(stuff, pan, pan // 1000))
        noise = rng.random((H, W)) < 0.03
        sem[noise] = rng.integers(0, 19, noise.sum())
        pan[noise & stuff] = sem[noise & stuff] % 11  # stray stuff pixels (all classes < 11)
    return preds


def slow_pq(preds, labels):
    """Straight per-segment PQ in train-id space, as docs/evaluation.md defines it."""
    stats = np.zeros((19, 4))  # iou, tp, fp, fn
    for image_id, (pred, _, _) in preds.items():
        gt = labels[image_id][1]
        cls = lambda v: v // 1000 if v >= 1000 else v  # noqa: E731
        gt_ids = [g for g in np.unique(gt) if g != 255]
        pred_ids = [p for p in np.unique(pred) if p != 255]
        crowd = {g: g for g in gt_ids if g < 1000 and g in THING_LIST}
        matched_pred = set()
        for g in gt_ids:
            if g in crowd:
                continue
            found = False
            for p in pred_ids:
                if cls(p) != cls(g):
                    continue
                inter = np.sum((gt == g) & (pred == p))
                union = np.sum(gt == g) + np.sum((pred == p) & (gt != 255)) - inter
                if inter / union > 0.5:
                    stats[cls(g)] += (inter / union, 1, 0, 0)
                    matched_pred.add(p)
                    found = True
            if not found:
                stats[cls(g), 3] += 1
        for p in pred_ids:
            if p in matched_pred:
                continue
            ignored = np.sum((pred == p) & ((gt == 255) | (gt == crowd.get(cls(p), -1))))
            if ignored / np.sum(pred == p) <= 0.5:
                stats[cls(p), 2] += 1
    result = {}
    for group, classes in (('All', range(19)), ('Things', THING_LIST),
                           ('Stuff', [c for c in range(19) if c not in THING_LIST])):
        rows = [stats[c] for c in classes if stats[c, 1:].sum() > 0]
        pq = [iou / (tp + fp / 2 + fn / 2) for iou, tp, fp, fn in rows]
        sq = [iou / tp if tp else 0.0 for iou, tp, fp, fn in rows]
        rq = [tp / (tp + fp / 2 + fn / 2) for iou, tp, fp, fn in rows]
        result[group] = {'pq': np.mean(pq), 'sq': np.mean(sq), 'rq': np.mean(rq),
                         'n': len(rows)}
    return result


def slow_miou(preds, labels):
    conf = np.zeros((19, 19), np.int64)
    for image_id, (_, sem, _) in preds.items():
        gt = labels[image_id][0]
        valid = gt != 255
        np.add.at(conf, (gt[valid], sem[valid]), 1)
    tp = np.diag(conf)
    denom = conf.sum(0) + conf.sum(1) - tp
    return 100 * np.mean(tp[denom > 0] / denom[denom > 0])


def write_and_run(tmp_path, root, preds, **kwargs):
    writer = OfficialWriter(str(tmp_path / 'official'), root, 'val')
    for image_id, (pan, sem, scores) in preds.items():
        writer.add(image_id, pan, sem, scores)
    return writer, writer.run(**kwargs)


def test_perfect_prediction_scores_full_marks(gt_root, tmp_path):
    root, labels = gt_root
    writer, res = write_and_run(tmp_path, root, perfect(labels))
    assert res['PQ'] == pytest.approx(1.0) and res['SQ'] == pytest.approx(1.0)
    assert res['pan_seg']['Things']['n'] == 4 and res['pan_seg']['Stuff']['n'] == 6
    assert res['mIoU'] == pytest.approx(100.0)
    # The 70 px car is below the official minimum size: ignored, not missed. Caravan has no AP.
    assert res['AP'] == pytest.approx(100.0) and res['AP50'] == pytest.approx(100.0)
    assert sorted(res['ins_seg']['AP']) == [11, 12, 13, 18]
    # No label-id panoptic ground truth in the dataset: made once under out_dir.
    assert os.path.isfile(os.path.join(writer.out_dir, '_gt', 'cityscapes_panoptic_val.json'))
    # The official scripts wrote nothing outside their working folders.
    assert not os.path.exists(os.path.join(root, 'evaluationResults'))
    assert os.path.isfile(os.path.join(writer.out_dir, '_eval', 'instance', 'matches.json'))


def test_perturbed_prediction_equals_straight_pq_and_miou(gt_root, tmp_path):
    root, labels = gt_root
    preds = perturbed(labels)
    _, res = write_and_run(tmp_path, root, preds)
    want = slow_pq(preds, labels)
    for group in ('All', 'Things', 'Stuff'):
        for key in ('pq', 'sq', 'rq'):
            assert res['pan_seg'][group][key] == pytest.approx(want[group][key], abs=1e-9)
        assert res['pan_seg'][group]['n'] == want[group]['n']
    assert 0.3 < res['PQ'] < 0.95
    assert res['mIoU'] == pytest.approx(slow_miou(preds, labels), abs=1e-9)
    assert 0 < res['AP'] < 100 and 0 < res['AP50'] < 100


def test_instance_ap_hand_case(gt_root, tmp_path):
    """Only cars are wrong: car 1 found (0.9), car 2 missed, a spurious car (0.8).

    Entries (false 0.8), (true 0.9) and one miss give the points (recall 0.5, precision 0.5),
    (0.5, 1) and (0, 1): AP = 0.5 * 0 + 1 * 0.25 + 1 * 0.25 = 50 % at every threshold.
    """
    root, labels = gt_root
    preds = perfect(labels)
    pan, sem, scores = preds['aachen_000000_000019']
    pan[pan == 13002] = 0
    pan[18:28, 10:30] = 13005
    scores[13005] = 0.8
    _, res = write_and_run(tmp_path, root, preds, tasks=('instance',))
    assert res['ins_seg']['AP'] == pytest.approx({11: 100.0, 12: 100.0, 13: 50.0, 18: 100.0})
    assert res['AP'] == pytest.approx(87.5) and res['AP50'] == pytest.approx(87.5)
    assert 'PQ' not in res and 'mIoU' not in res


def test_written_files_follow_the_official_formats(gt_root, tmp_path):
    root, labels = gt_root
    preds = perturbed(labels)
    writer = OfficialWriter(str(tmp_path / 'out'), root, 'val')
    image_id = 'aachen_000000_000019'
    pan, sem, scores = preds[image_id]
    writer.add(image_id, pan, sem, scores)
    sem_png = cv2.imread(os.path.join(writer.semantic_dir, image_id + '_pred_labelIds.png'),
                         cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(sem_png, np.asarray(TRAIN_ID_TO_LABEL_ID)[sem])
    rgb = cv2.imread(os.path.join(writer.panoptic_dir, image_id + '_panoptic.png'))[..., ::-1]
    ids = rgb[..., 0] + 256 * rgb[..., 1].astype(np.int64) + 65536 * rgb[..., 2]
    assert ids[pan == 13005][0] == 26005 and ids[pan == 0][0] == 7 and ids[pan == 255][0] == 0
    path = writer.write_panoptic_json()
    segments = json.load(open(path))['annotations'][0]['segments_info']
    assert {s['id']: s['category_id'] for s in segments}[26005] == 26
    lines = open(os.path.join(writer.instance_dir, image_id + '_pred.txt')).read().splitlines()
    assert 'masks/{}_26005.png 26 0.3'.format(image_id) in lines
    assert len(lines) == sum(1 for v in np.unique(pan) if v >= 1000)
    mask = cv2.imread(os.path.join(writer.instance_dir, 'masks', image_id + '_26005.png'), 0)
    np.testing.assert_array_equal(mask > 0, pan == 13005)


def test_panoptic_instance_scores():
    pan = np.array([[0, 13001, 13001], [255, 11001, 13002]])
    softmax = np.zeros((19, 2, 3))
    softmax[13] = [[0.5, 0.2, 0.6], [0.0, 0.9, 0.7]]
    softmax[11] = 0.25
    assert panoptic_instance_scores(pan, softmax) == pytest.approx(
        {13001: 0.4, 13002: 0.7, 11001: 0.25})


def test_bad_input_is_reported(gt_root, tmp_path):
    root, labels = gt_root
    pan, sem, scores = perfect(labels)['aachen_000000_000019']
    writer = OfficialWriter(str(tmp_path / 'out'), root, 'val')
    with pytest.raises(ValueError, match='city'):
        writer.add('aachen_000019', pan, sem, scores)
    with pytest.raises(ValueError, match='one size'):
        writer.add('aachen_000000_000019', pan, sem[:, :5], scores)
    with pytest.raises(KeyError, match='13002'):
        writer.add('aachen_000000_000019', pan, sem, {13001: 0.5, 11001: 0.5})
    with pytest.raises(ValueError, match='no images'):
        writer.run()
    writer.add('frankfurt_000000_000294', pan, sem, scores)
    with pytest.raises(FileNotFoundError, match='frankfurt_000000_000294_gtFine_labelIds.png'):
        writer.run()
    writer = OfficialWriter(str(tmp_path / 'out2'), root, 'val')
    writer.add('aachen_000000_000019', pan[:60], sem[:60], scores)
    with pytest.raises(ValueError, match='aachen_000000_000019: prediction is 60x128'):
        writer.run()


def test_official_failure_shows_the_log(gt_root, tmp_path):
    root, labels = gt_root
    pan, sem, scores = perfect(labels)['aachen_000000_000019']
    writer = OfficialWriter(str(tmp_path / 'out'), root, 'val')
    writer.add('aachen_000000_000019', pan, sem, scores)
    # A three-channel semantic prediction is refused by evalPixelLevelSemanticLabeling.
    cv2.imwrite(os.path.join(writer.semantic_dir, 'aachen_000000_000019_pred_labelIds.png'),
                np.zeros((H, W, 3), np.uint8))
    with pytest.raises(RuntimeError, match='(?s)semantic evaluation failed.*multiple channels'):
        writer.run(tasks=('semantic',))


def test_images_added_by_several_writers_are_evaluated_together(gt_root, tmp_path):
    """As under several processes: each adds its images, one evaluates all of them."""
    root, labels = gt_root
    preds = perturbed(labels)
    out = str(tmp_path / 'shared')
    writers = [OfficialWriter(out, root, 'val') for _ in preds]
    for writer, (image_id, (pan, sem, scores)) in zip(writers, preds.items()):
        writer.add(image_id, pan, sem, scores)
    res = writers[0].run(image_ids=list(preds))
    want = slow_pq(preds, labels)
    assert res['PQ'] == pytest.approx(want['All']['pq'], abs=1e-9)
    assert res['mIoU'] == pytest.approx(slow_miou(preds, labels), abs=1e-9)
    # By default a writer evaluates only what it added itself.
    one = writers[1].run(tasks=('panoptic',))
    only = {k: v for k, v in preds.items() if k == writers[1].image_ids[0]}
    assert one['PQ'] == pytest.approx(slow_pq(only, labels)['All']['pq'], abs=1e-9)
    with pytest.raises(FileNotFoundError, match='no prediction was added for image x_1_2'):
        writers[0].run(image_ids=['x_1_2'])


def test_label_id_panoptic_ground_truth_of_the_dataset_is_used(gt_root, tmp_path):
    root, labels = gt_root
    preds = perturbed(labels)
    first = OfficialWriter(str(tmp_path / 'first'), root, 'val')
    for image_id, (pan, sem, scores) in preds.items():
        first.add(image_id, pan, sem, scores)
    want = first.run(tasks=('panoptic',))['pan_seg']
    # Move the ground truth made by the first run into the dataset, as createPanopticImgs
    # (without --use-train-id) would have put it.
    dataset = tmp_path / 'dataset'
    shutil.copytree(root, dataset)
    for name in ('cityscapes_panoptic_val.json', 'cityscapes_panoptic_val'):
        shutil.move(os.path.join(first.out_dir, '_gt', name), dataset / 'gtFine' / name)
    second = OfficialWriter(str(tmp_path / 'second'), str(dataset), 'val')
    for image_id, (pan, sem, scores) in preds.items():
        second.add(image_id, pan, sem, scores)
    assert second.run(tasks=('panoptic',))['pan_seg'] == want
    assert not os.path.exists(os.path.join(second.out_dir, '_gt'))
