"""cityscapesScripts' panoptic evaluator on any COCO-panoptic-format dataset.

``evalPanopticSemanticLabeling.evaluatePanoptic`` is the COCO panoptic quality computation: it
reads the categories (ids, ``isthing``) from the ground-truth json and compares the RGB-id PNGs
of ground truth and prediction, so it works for any category set, not only Cityscapes. (The
instance and pixel evaluators of cityscapesScripts read Cityscapes label ids and are not run.)

Layout under ``out_dir``::

    panoptic/predictions.json          COCO panoptic predictions (the dataset's category ids)
    panoptic/predictions/{name}.png    RGB-id PNGs, segments numbered 1, 2, ... (0 void)
    _segments/{name}.json              per-image segments (so several processes can add images)
    _eval/panoptic/                    ground_truth.json (the evaluated images), log.txt and
                                       result.json
"""
import json
import os

import numpy as np

from paddleseg_panoptic.evaluation.official import OfficialWriter
from paddleseg_panoptic.utils.panoptic_ids import compact_ids, decode, id2rgb
from paddleseg_panoptic.utils.visualize import write_png


class PanopticOfficialWriter(OfficialWriter):
    """Writes panoptic predictions of a COCO-panoptic-format dataset and runs the official
    panoptic evaluator on them.

    Args:
        out_dir (str): folder for predictions, logs and results (created).
        gt_json (str): the dataset's panoptic json (categories and ground truth).
        gt_folder (str): the dataset's panoptic PNG folder.
        category_ids (sequence[int]): the dataset's category id of each train id.
        label_divisor (int): of the panoptic maps given to :meth:`add`.
        ignore_index (int): void value of those maps.
    """

    def __init__(self, out_dir, gt_json, gt_folder, category_ids, label_divisor=1000,
                 ignore_index=255):
        self.out_dir = os.path.abspath(out_dir)
        self.dataset_root = os.path.dirname(os.path.abspath(gt_json))
        self.gt_json = os.path.abspath(gt_json)
        self.gt_folder = os.path.abspath(gt_folder)
        self.category_ids = [int(c) for c in category_ids]
        self.label_divisor = int(label_divisor)
        self.ignore_index = int(ignore_index)
        self.image_ids = []
        self.panoptic_json = os.path.join(self.out_dir, "panoptic", "predictions.json")
        self.panoptic_dir = os.path.join(self.out_dir, "panoptic", "predictions")
        self.segments_dir = os.path.join(self.out_dir, "_segments")
        for d in (self.panoptic_dir, self.segments_dir):
            os.makedirs(d, exist_ok=True)

    @staticmethod
    def _file_stem(image_id):
        return str(image_id).replace("/", "_").replace("\\", "_")

    def add(self, image_id, panoptic, semantic=None, segment_scores=None):
        """Writes one image's panoptic prediction.

        Args:
            image_id (str): ``str()`` of the image's ``image_id`` in the ground-truth json.
            panoptic (np.ndarray): [H, W] int: train id * label_divisor + k for instances,
                the train id for stuff, ``ignore_index`` for void.
            semantic, segment_scores: unused (the panoptic evaluator needs neither); accepted
                so that the evaluation loop treats every writer alike.
        """
        panoptic = np.asarray(panoptic)
        if panoptic.ndim != 2 or not np.issubdtype(panoptic.dtype, np.integer):
            raise ValueError("{}: panoptic must be an integer (H, W) map, got {} {}".format(
                image_id, panoptic.dtype, panoptic.shape))
        values, inverse, areas = compact_ids(panoptic)
        num_classes = len(self.category_ids)
        segment_ids = np.zeros(len(values), np.int64)
        segments = []
        for position, (value, area) in enumerate(zip(values.tolist(), areas.tolist())):
            if value == self.ignore_index:
                continue                      # void: segment id 0
            cls = int(decode(value, self.label_divisor)[0])
            if not 0 <= cls < num_classes:
                raise ValueError("{}: panoptic value {} is not a train id below {} (times "
                                 "{} plus k)".format(image_id, value, num_classes,
                                                     self.label_divisor))
            segment_ids[position] = len(segments) + 1
            segments.append({"id": len(segments) + 1, "category_id": self.category_ids[cls],
                             "area": int(area), "iscrowd": 0})
        name = self._file_stem(image_id)
        write_png(os.path.join(self.panoptic_dir, name + ".png"),
                  id2rgb(segment_ids[inverse]))
        record = {"image_id": str(image_id), "file_name": name + ".png",
                  "height": int(panoptic.shape[0]), "width": int(panoptic.shape[1]),
                  "segments_info": segments}
        with open(os.path.join(self.segments_dir, name + ".json"), "w") as f:
            json.dump(record, f)
        if image_id not in self.image_ids:
            self.image_ids.append(image_id)

    def _records(self, image_ids):
        return super()._records([self._file_stem(i) for i in image_ids])

    def _ground_truth(self, image_ids):
        """The dataset's json restricted to ``image_ids`` (matched by ``str(image_id)``)."""
        with open(self.gt_json) as f:
            gt = json.load(f)
        wanted = {str(i) for i in image_ids}
        gt["annotations"] = [a for a in gt["annotations"] if str(a["image_id"]) in wanted]
        gt["images"] = [i for i in gt.get("images") or [] if str(i.get("id")) in wanted]
        missing = wanted - {str(a["image_id"]) for a in gt["annotations"]}
        if missing:
            raise ValueError("{} has no annotation for image(s) {}".format(
                self.gt_json, sorted(missing)[:10]))
        return gt

    def run(self, image_ids=None, tasks=("panoptic",)):
        """Runs the official panoptic evaluator on ``image_ids`` (default: those added).

        Returns:
            dict: ``PQ``, ``SQ``, ``RQ`` (fractions, All) and ``pan_seg`` {'All', 'Things',
            'Stuff': {'pq', 'sq', 'rq', 'n'}, 'per_class': {train id: {'pq', 'sq', 'rq'}}},
            ``files`` and ``seconds``.
        """
        if set(tasks) - {"panoptic"}:
            raise ValueError("only the panoptic evaluator works on a non-Cityscapes dataset; "
                             "got tasks {}".format(list(tasks)))
        image_ids = list(self.image_ids if image_ids is None else image_ids)
        if not image_ids:
            raise ValueError("no images to evaluate: call add() first or pass image_ids")
        gt = self._ground_truth(image_ids)
        original_id = {str(a["image_id"]): a["image_id"] for a in gt["annotations"]}
        records = self._records(image_ids)
        predictions = {
            "annotations": [{"image_id": original_id[r["image_id"]],
                             "file_name": r["file_name"], "segments_info": r["segments_info"]}
                            for r in records],
            "categories": gt["categories"]}
        with open(self.panoptic_json, "w") as f:
            json.dump(predictions, f)
        work = os.path.join(self.out_dir, "_eval", "panoptic")
        os.makedirs(work, exist_ok=True)
        gt_json = os.path.join(work, "ground_truth.json")
        with open(gt_json, "w") as f:
            json.dump(gt, f)
        result = os.path.join(work, "result.json")
        job = self._run_driver("panoptic", work, {
            "gt_json": gt_json, "gt_folder": self.gt_folder, "pred_json": self.panoptic_json,
            "pred_folder": self.panoptic_dir, "result": result}, result, wait=False)
        raw, seconds = self._finish(job)
        train_id = {c: t for t, c in enumerate(self.category_ids)}
        pan = {g: dict(raw[g]) for g in ("All", "Things", "Stuff")}
        pan["per_class"] = {train_id[int(k)]: v for k, v in raw["per_class"].items()}
        return {"pan_seg": pan, "PQ": pan["All"]["pq"], "SQ": pan["All"]["sq"],
                "RQ": pan["All"]["rq"],
                "files": {"panoptic": {"result": result, "log": os.path.join(work, "log.txt")}},
                "seconds": {"panoptic": seconds}}
