"""Bridge to the official cityscapesScripts evaluators.

`OfficialWriter` writes predictions in the formats the three official evaluators read and runs
them, each in its own subprocess, on exactly the images that were added:

- ``evalPanopticSemanticLabeling``: COCO-panoptic json + RGB-id PNGs, label ids as categories;
- ``evalInstanceLevelSemanticLabeling``: one txt per image listing binary mask PNGs, label ids
  and scores;
- ``evalPixelLevelSemanticLabeling``: one label-id PNG per image.

The official modules read ``CITYSCAPES_DATASET`` / ``CITYSCAPES_RESULTS`` when imported, keep
their settings in a module-level ``args``, cache ground truth on disk (``gtInstances.json``, by
default inside the installed package) and write files into the working directory. A fresh
interpreter per evaluator, started in a scratch folder with its own cache path, keeps all of
that away from the calling process and from earlier runs.

Layout under ``out_dir`` (``{split}`` is e.g. ``val``)::

    panoptic/cityscapes_panoptic_{split}.json           COCO panoptic predictions
    panoptic/cityscapes_panoptic_{split}/{id}_panoptic.png
    instance/{id}_pred.txt, instance/masks/{id}_{segment id}.png
    semantic/{id}_pred_labelIds.png
    _segments/{id}.json      per-image segments (so several processes can add images)
    _gt/                     label-id panoptic ground truth, made when the dataset lacks it;
                             _gt/source.json records what it was made from (rebuilt when the
                             dataset's instanceIds PNGs change)
    _eval/{panoptic,instance,semantic}/   working folders: log.txt and result.json
"""
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
from PIL import Image
from cityscapesscripts.helpers.labels import id2label

from paddleseg_panoptic.datasets.meta import (IGNORE_INDEX, NUM_CLASSES, THING_LIST,
                                              TRAIN_ID_TO_LABEL_ID)
from paddleseg_panoptic.utils.panoptic_ids import decode, has_instance, id2rgb

TASKS = ('panoptic', 'instance', 'semantic')
_EVAL_PKG = 'cityscapesscripts.evaluation.'

# Each driver runs in a fresh interpreter with the json config path as argv[1].
_DRIVERS = {
    'panoptic': """
import json, sys
cfg = json.load(open(sys.argv[1]))
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import evaluatePanoptic
evaluatePanoptic(cfg['gt_json'], cfg['gt_folder'], cfg['pred_json'], cfg['pred_folder'],
                 cfg['result'])
""",
    'instance': """
import json, sys
cfg = json.load(open(sys.argv[1]))
from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as ev
ev.args.gtInstancesFile = cfg['gt_cache']
ev.args.exportFile = cfg['result']
ev.args.predictionPath = cfg['pred_root']
ev.args.colorized = False
ev.evaluateImgLists(cfg['predictions'], cfg['ground_truth'], ev.args)
""",
    'semantic': """
import json, sys
cfg = json.load(open(sys.argv[1]))
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev
ev.args.exportFile = cfg['result']
ev.args.predictionPath = cfg['pred_root']
ev.args.colorized = False
ev.evaluateImgLists(cfg['predictions'], cfg['ground_truth'], ev.args)
""",
    'make_gt': """
import json, sys
cfg = json.load(open(sys.argv[1]))
from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
convert2panoptic(cfg['gt_fine'], cfg['out'], useTrainId=False, setNames=[cfg['split']])
""",
}


def _label_id_lut():
    """uint8 table train id -> label id; void (and anything else) -> 0 'unlabeled'."""
    lut = np.zeros(256, np.uint8)
    lut[:NUM_CLASSES] = TRAIN_ID_TO_LABEL_ID
    return lut


def _read_json_or_none(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _imwrite(path, image):
    # OpenCV's default PNG settings are the fastest here and give the smallest files for
    # these mostly constant maps (explicit zlib levels are slower and larger).
    if not cv2.imwrite(path, image):
        raise OSError('could not write {}'.format(path))


class OfficialWriter:
    """Writes predictions for, and runs, the official Cityscapes evaluators.

    Args:
        out_dir (str): folder for predictions, logs and results (created).
        dataset_root (str): Cityscapes root holding ``gtFine/{split}/{city}/*_gtFine_*.png``.
        split (str): ``val`` or ``train`` (or ``test`` for writing submissions only).
        label_divisor (int): of the panoptic maps given to :meth:`add`.

    Call :meth:`add` per image, then :meth:`run` (or only :meth:`write_panoptic_json` to make
    a submission). Under several processes each adds its own images into the same ``out_dir``
    and one process calls ``run(image_ids=all_ids)`` after the others have finished.
    """

    def __init__(self, out_dir, dataset_root, split='val', label_divisor=1000):
        self.out_dir = os.path.abspath(out_dir)
        self.dataset_root = os.path.abspath(dataset_root)
        self.split = split
        self.label_divisor = int(label_divisor)
        self.image_ids = []
        base = 'cityscapes_panoptic_{}'.format(split)
        self.panoptic_json = os.path.join(self.out_dir, 'panoptic', base + '.json')
        self.panoptic_dir = os.path.join(self.out_dir, 'panoptic', base)
        self.instance_dir = os.path.join(self.out_dir, 'instance')
        self.semantic_dir = os.path.join(self.out_dir, 'semantic')
        self.segments_dir = os.path.join(self.out_dir, '_segments')
        for d in (self.panoptic_dir, os.path.join(self.instance_dir, 'masks'),
                  self.semantic_dir, self.segments_dir):
            os.makedirs(d, exist_ok=True)
        self._lut = _label_id_lut()

    # ------------------------------------------------------------------ writing
    def add(self, image_id, panoptic, semantic, segment_scores):
        """Writes one image's predictions in the three official formats.

        Args:
            image_id (str): Cityscapes name ``{city}_{seq}_{frame}``.
            panoptic (np.ndarray): [H, W] int, train ids: class * label_divisor + k (k >= 1)
                for instances, class for stuff (and thing pixels without instance), 255 void.
                A value class * label_divisor (k = 0) is a panoptic segment but, as for our
                InstanceEvaluator, no instance prediction.
            semantic (np.ndarray): [H, W] int train ids (255 is written as 'unlabeled', which
                the official pixel evaluator counts as a miss).
            segment_scores (dict[int, float]): score of every instance id of ``panoptic``.
        """
        if not isinstance(image_id, str) or len(image_id.split('_')) != 3:
            raise ValueError('image_id must be "{{city}}_{{seq}}_{{frame}}", got {!r}'.format(
                image_id))
        panoptic, semantic = np.asarray(panoptic), np.asarray(semantic)
        if panoptic.ndim != 2 or panoptic.shape != semantic.shape:
            raise ValueError('{}: panoptic {} and semantic {} must be (H, W) maps of one size'
                             .format(image_id, panoptic.shape, semantic.shape))
        for name, arr in (('panoptic', panoptic), ('semantic', semantic)):
            if not np.issubdtype(arr.dtype, np.integer):
                raise ValueError('{}: {} must be integer, got {}'.format(image_id, name, arr.dtype))
        present = np.nonzero(np.bincount(semantic.ravel().clip(-1, 256) + 1))[0] - 1
        bad = np.setdiff1d(present, list(range(NUM_CLASSES)) + [IGNORE_INDEX])
        if bad.size:
            raise ValueError('{}: semantic has values {} that are no train id'.format(
                image_id, bad.tolist()))
        _imwrite(os.path.join(self.semantic_dir, image_id + '_pred_labelIds.png'),
                 self._lut[semantic.astype(np.int64)])
        segments = self._write_panoptic(image_id, panoptic)
        self._write_instances(image_id, panoptic, segments, segment_scores)
        record = {'image_id': image_id, 'file_name': image_id + '_panoptic.png',
                  'height': int(panoptic.shape[0]), 'width': int(panoptic.shape[1]),
                  'segments_info': [{k: s[k] for k in ('id', 'category_id', 'area', 'iscrowd')}
                                    for s in segments]}
        with open(os.path.join(self.segments_dir, image_id + '.json'), 'w') as f:
            json.dump(record, f)
        if image_id not in self.image_ids:
            self.image_ids.append(image_id)

    def _write_panoptic(self, image_id, panoptic):
        """Writes the RGB-id PNG; returns the segments (with their train-space value)."""
        flat = panoptic.ravel().astype(np.int64)
        top = max(NUM_CLASSES * self.label_divisor, IGNORE_INDEX + 1)
        if flat.min() < 0 or flat.max() >= top:
            raise ValueError('{}: panoptic values must lie in [0, {}), got [{}, {}]'.format(
                image_id, top, flat.min(), flat.max()))
        areas = np.bincount(flat)
        segments, official_ids = [], np.zeros(len(areas), np.int64)
        for value in np.nonzero(areas)[0].tolist():
            if value == IGNORE_INDEX:
                continue
            cls, k = (int(v) for v in decode(value, self.label_divisor))
            k = k if has_instance(value, self.label_divisor) else None
            if not 0 <= cls < NUM_CLASSES or (k is not None and k >= 1000):
                raise ValueError('{}: panoptic value {} is not class * {} + k with a train id '
                                 'class and k < 1000'.format(image_id, value, self.label_divisor))
            label_id = TRAIN_ID_TO_LABEL_ID[cls]
            # Cityscapes' own convention: labelId for stuff, labelId * 1000 + k for instances.
            official_ids[value] = label_id if k is None else label_id * 1000 + k
            segments.append({'id': int(official_ids[value]), 'category_id': label_id,
                             'area': int(areas[value]), 'iscrowd': 0, 'value': value,
                             'train_id': cls, 'instance': k is not None and k > 0})
        ids = official_ids[flat].reshape(panoptic.shape)
        # cv2 writes BGR.
        _imwrite(os.path.join(self.panoptic_dir, image_id + '_panoptic.png'),
                 np.ascontiguousarray(id2rgb(ids)[..., ::-1]))
        return segments

    def _write_instances(self, image_id, panoptic, segments, segment_scores):
        mask_dir = os.path.join(self.instance_dir, 'masks')
        for name in os.listdir(mask_dir):  # masks of an earlier add() of this image
            if name.startswith(image_id + '_'):
                os.remove(os.path.join(mask_dir, name))
        lines = []
        for seg in segments:
            if not seg['instance']:
                continue
            if seg['value'] not in segment_scores:
                raise KeyError('{}: segment_scores has no score for instance {}'.format(
                    image_id, seg['value']))
            name = '{}_{}.png'.format(image_id, seg['id'])
            mask = (panoptic == seg['value']).astype(np.uint8) * 255
            _imwrite(os.path.join(mask_dir, name), mask)
            lines.append('masks/{} {} {!r}\n'.format(name, seg['category_id'],
                                                     float(segment_scores[seg['value']])))
        with open(os.path.join(self.instance_dir, image_id + '_pred.txt'), 'w') as f:
            f.writelines(lines)

    def _records(self, image_ids):
        records = []
        for image_id in image_ids:
            path = os.path.join(self.segments_dir, image_id + '.json')
            if not os.path.isfile(path):
                raise FileNotFoundError('no prediction was added for image {} (missing {})'.format(
                    image_id, path))
            with open(path) as f:
                records.append(json.load(f))
        return records

    def write_panoptic_json(self, image_ids=None):
        """Writes the COCO-panoptic prediction json for ``image_ids`` (default: those added)."""
        records = self._records(self.image_ids if image_ids is None else image_ids)
        data = {
            'annotations': [{k: r[k] for k in ('image_id', 'file_name', 'segments_info')}
                            for r in records],
            'images': [{'id': r['image_id'], 'file_name': r['image_id'] + '_leftImg8bit.png',
                        'height': r['height'], 'width': r['width']} for r in records],
            'categories': [{'id': lid, 'name': id2label[lid].name,
                            'isthing': int(t in THING_LIST)}
                           for t, lid in enumerate(TRAIN_ID_TO_LABEL_ID)]}
        with open(self.panoptic_json, 'w') as f:
            json.dump(data, f)
        return self.panoptic_json

    # ------------------------------------------------------------------ evaluating
    def _gt_path(self, image_id, kind):
        city = image_id.split('_')[0]
        return os.path.join(self.dataset_root, 'gtFine', self.split, city,
                            '{}_gtFine_{}.png'.format(image_id, kind))

    def _check_ground_truth(self, records):
        for r in records:
            for kind in ('labelIds', 'instanceIds'):
                path = self._gt_path(r['image_id'], kind)
                if not os.path.isfile(path):
                    raise FileNotFoundError('ground truth {} of image {} not found'.format(
                        path, r['image_id']))
            with Image.open(path) as gt:  # reads the header only
                width, height = gt.size
            if (height, width) != (r['height'], r['width']):
                raise ValueError('image {}: prediction is {}x{} (HxW) but ground truth {} is '
                                 '{}x{}'.format(r['image_id'], r['height'], r['width'], path,
                                                height, width))

    def _panoptic_ground_truth(self, image_ids):
        """(json, folder) of label-id panoptic ground truth covering ``image_ids``.

        Uses ``gtFine/cityscapes_panoptic_{split}.json`` of the dataset when it covers them,
        else makes it once under ``out_dir/_gt`` with createPanopticImgs (label ids).
        """
        base = 'cityscapes_panoptic_{}'.format(self.split)
        image_ids = set(image_ids)

        def load_if_covering(folder):
            path = os.path.join(folder, base + '.json')
            if not os.path.isfile(path):
                return None
            with open(path) as f:
                gt = json.load(f)
            label_ids = {c['id'] for c in gt['categories']} == set(TRAIN_ID_TO_LABEL_ID)
            have = {a['image_id'] for a in gt['annotations']}
            return gt if label_ids and have.issuperset(image_ids) else None

        gt = load_if_covering(os.path.join(self.dataset_root, 'gtFine'))
        if gt is not None:
            return gt, os.path.join(self.dataset_root, 'gtFine', base)
        cache = os.path.join(self.out_dir, '_gt')
        stamp_path = os.path.join(cache, 'source.json')
        stamp = self._ground_truth_stamp()
        if _read_json_or_none(stamp_path) == stamp:
            gt = load_if_covering(cache)
            if gt is not None:
                return gt, os.path.join(cache, base)
        elif os.path.isdir(cache):
            print('official evaluation: {} was made from other ground truth files (or by an '
                  'older version); making it again'.format(cache), flush=True)
        # (Re)make our copy from the instanceIds PNGs; the stamp is written last, so an
        # interrupted conversion is never taken for a finished one.
        shutil.rmtree(cache, ignore_errors=True)
        os.makedirs(cache)
        self._run_driver('make_gt', os.path.join(self.out_dir, '_eval', 'make_gt'),
                         {'gt_fine': os.path.join(self.dataset_root, 'gtFine'), 'out': cache,
                          'split': self.split}, None)
        with open(stamp_path, 'w') as f:
            json.dump(stamp, f, indent=1)
        gt = load_if_covering(cache)
        if gt is None:
            raise FileNotFoundError('panoptic ground truth made from {} lacks some of the '
                                    'images'.format(os.path.join(self.dataset_root, 'gtFine',
                                                                 self.split)))
        return gt, os.path.join(cache, base)

    def _ground_truth_stamp(self):
        """What the ``_gt`` copy is made from: the split and a SHA-256 over the name, size and
        modification time of every ``gtFine/{split}/*/*_instanceIds.png``."""
        split_dir = os.path.join(self.dataset_root, 'gtFine', self.split)
        digest = hashlib.sha256()
        files = sorted(glob.glob(os.path.join(split_dir, '*', '*_instanceIds.png')))
        for path in files:
            info = os.stat(path)
            digest.update('{}\0{}\0{}\n'.format(os.path.relpath(path, split_dir), info.st_size,
                                                 info.st_mtime_ns).encode())
        return {'source': split_dir, 'split': self.split, 'files': len(files),
                'sha256': digest.hexdigest()}

    def _run_driver(self, task, work, cfg, result, wait=True):
        """Starts one official script in a fresh interpreter with cwd ``work``."""
        os.makedirs(work, exist_ok=True)
        if result is not None and os.path.exists(result):
            os.remove(result)
        cfg_path = os.path.join(work, 'config.json')
        with open(cfg_path, 'w') as f:
            json.dump(cfg, f)
        env = dict(os.environ, CITYSCAPES_DATASET=self.dataset_root,
                   CITYSCAPES_RESULTS=self.out_dir, CITYSCAPES_EXPORT_DIR=work)
        log_path = os.path.join(work, 'log.txt')
        with open(log_path, 'w') as log:
            proc = subprocess.Popen([sys.executable, '-c', _DRIVERS[task], cfg_path], cwd=work,
                                    env=env, stdout=log, stderr=subprocess.STDOUT)
        job = (task, proc, log_path, result, time.perf_counter())
        if wait:
            self._finish(job)
        return job

    @staticmethod
    def _finish(job):
        task, proc, log_path, result, start = job
        rc = proc.wait()
        seconds = time.perf_counter() - start
        if rc != 0 or (result is not None and not os.path.isfile(result)):
            with open(log_path, errors='replace') as f:
                tail = f.read()[-3000:]
            raise RuntimeError('official cityscapesScripts {} evaluation failed (exit code {}); '
                               'log {} ends with:\n{}'.format(task, rc, log_path, tail))
        if result is not None:
            with open(result) as f:
                return json.load(f), seconds

    def run(self, image_ids=None, tasks=TASKS):
        """Runs the official evaluators on ``image_ids`` (default: the images added here).

        Args:
            image_ids (list[str] | None): images to evaluate; their predictions must have been
                added (by any process) into this ``out_dir``.
            tasks (tuple[str]): subset of ``('panoptic', 'instance', 'semantic')``.

        Returns:
            dict: ``PQ``, ``SQ``, ``RQ`` (fractions, All), ``mIoU``, ``AP``, ``AP50`` (percent),
            and in the shape of our evaluators: ``pan_seg`` {'All', 'Things', 'Stuff': {'pq',
            'sq', 'rq', 'n'}, 'per_class': {train id: {'pq', 'sq', 'rq'}}} (fractions),
            ``sem_seg`` {'mIoU', 'iIoU', 'IoU': {train id: IoU}} (percent), ``ins_seg``
            {'mAP', 'mAP50', 'AP': {train id: AP}, 'AP50': {...}} (percent; only classes with
            ground truth), ``files`` (result json and log of each evaluator) and ``seconds``
            (wall time of each evaluator; they run concurrently).
        """
        unknown = set(tasks) - set(TASKS)
        if unknown:
            raise ValueError('unknown tasks {}; choose from {}'.format(sorted(unknown), TASKS))
        image_ids = list(self.image_ids if image_ids is None else image_ids)
        if not image_ids:
            raise ValueError('no images to evaluate: call add() first or pass image_ids')
        records = self._records(image_ids)
        self._check_ground_truth(records)
        eval_dir = os.path.join(self.out_dir, '_eval')
        jobs = {}
        if 'panoptic' in tasks:
            self.write_panoptic_json(image_ids)
            gt, gt_folder = self._panoptic_ground_truth(image_ids)
            wanted = set(image_ids)
            gt['annotations'] = [a for a in gt['annotations'] if a['image_id'] in wanted]
            gt['images'] = [i for i in gt.get('images', []) if i['id'] in wanted]
            work = os.path.join(eval_dir, 'panoptic')
            os.makedirs(work, exist_ok=True)
            gt_json = os.path.join(work, 'ground_truth.json')
            with open(gt_json, 'w') as f:
                json.dump(gt, f)
            jobs['panoptic'] = self._run_driver(
                'panoptic', work, {'gt_json': gt_json, 'gt_folder': gt_folder,
                                   'pred_json': self.panoptic_json,
                                   'pred_folder': self.panoptic_dir,
                                   'result': os.path.join(work, 'result.json')},
                os.path.join(work, 'result.json'), wait=False)
        for task, pred_dir, suffix, kind in (
                ('instance', self.instance_dir, '_pred.txt', 'instanceIds'),
                ('semantic', self.semantic_dir, '_pred_labelIds.png', 'labelIds')):
            if task not in tasks:
                continue
            work = os.path.join(eval_dir, task)
            cache = os.path.join(work, 'gtInstances.json')
            if os.path.exists(cache):  # never reuse ground truth cached by an earlier run
                os.remove(cache)
            jobs[task] = self._run_driver(
                task, work, {'predictions': [os.path.join(pred_dir, i + suffix)
                                             for i in image_ids],
                             'ground_truth': [self._gt_path(i, kind) for i in image_ids],
                             'pred_root': pred_dir, 'gt_cache': cache,
                             'result': os.path.join(work, 'result.json')},
                os.path.join(work, 'result.json'), wait=False)
        raw, seconds, errors = {}, {}, []
        try:
            for task, job in jobs.items():  # wait for all before raising a failure
                try:
                    raw[task], seconds[task] = self._finish(job)
                except RuntimeError as e:
                    errors.append(str(e))
        finally:  # interrupted: leave no evaluator running
            for job in jobs.values():
                if job[1].poll() is None:
                    job[1].kill()
        if errors:
            raise RuntimeError('\n\n'.join(errors))
        return self._summarise(raw, seconds, eval_dir)

    @staticmethod
    def _summarise(raw, seconds, eval_dir):
        label_to_train = {lid: t for t, lid in enumerate(TRAIN_ID_TO_LABEL_ID)}
        name_to_train = {id2label[lid].name: t for t, lid in enumerate(TRAIN_ID_TO_LABEL_ID)}
        out = {'files': {t: {'result': os.path.join(eval_dir, t, 'result.json'),
                             'log': os.path.join(eval_dir, t, 'log.txt')} for t in raw},
               'seconds': seconds}
        if 'panoptic' in raw:
            r = raw['panoptic']
            pan = {g: dict(r[g]) for g in ('All', 'Things', 'Stuff')}
            pan['per_class'] = {label_to_train[int(k)]: v for k, v in r['per_class'].items()}
            out['pan_seg'] = pan
            out.update(PQ=pan['All']['pq'], SQ=pan['All']['sq'], RQ=pan['All']['rq'])
        if 'semantic' in raw:
            r = raw['semantic']
            # Like ours, IoU only for classes in the mean (the official gives the others nan).
            iou = {name_to_train[n]: 100 * v for n, v in r['classScores'].items()
                   if n in name_to_train and not np.isnan(v)}
            out['sem_seg'] = {'mIoU': 100 * r['averageScoreClasses'],
                              'iIoU': 100 * r['averageScoreInstClasses'], 'IoU': iou}
            out['mIoU'] = out['sem_seg']['mIoU']
        if 'instance' in raw:
            r = raw['instance']['averages']
            classes = {name_to_train[n]: v for n, v in r['classes'].items()}
            out['ins_seg'] = {
                'mAP': 100 * r['allAp'], 'mAP50': 100 * r['allAp50%'],
                'AP': {t: 100 * v['ap'] for t, v in classes.items() if not np.isnan(v['ap'])},
                'AP50': {t: 100 * v['ap50%'] for t, v in classes.items()
                         if not np.isnan(v['ap50%'])}}
            out.update(AP=out['ins_seg']['mAP'], AP50=out['ins_seg']['mAP50'])
        return out
