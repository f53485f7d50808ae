"""Panoptic quality (PQ = SQ x RQ) accumulated per class.

Units: PQ, SQ and RQ are fractions in [0, 1], as in the reference's result dictionary (the
tools print them in percent).
"""
import numpy as np

from paddleseg_panoptic.utils.panoptic_ids import compact_ids, decode

from .tables import as_label_map, check_same_shape, intersection_table


class PanopticEvaluator:
    """Per-class TP / FP / FN counts and matched-IoU sums over panoptic maps.

    A map value v is a segment id; its class is ``v // label_divisor`` when
    ``v >= label_divisor``, else v itself (:mod:`paddleseg_panoptic.utils.panoptic_ids`).
    ``ignore_index`` is void. A ground-truth segment
    whose value is a thing class id (no instance) is a crowd region.

    Args:
        num_classes (int): number of classes C.
        thing_list (Sequence[int]): class ids that have instances; the others are stuff.
        ignore_index (int): void id in both maps. Default 255.
        label_divisor (int): instance ids are ``class * label_divisor + k``. Default 1000.
    """

    def __init__(self, num_classes, thing_list, ignore_index=255, label_divisor=1000):
        self.num_classes = int(num_classes)
        self.thing_list = tuple(int(c) for c in thing_list)
        self.ignore_index = int(ignore_index)
        self.label_divisor = int(label_divisor)
        bad = [c for c in self.thing_list if not 0 <= c < self.num_classes]
        if bad:
            raise ValueError("thing_list holds classes {} outside [0, {})".format(
                bad, self.num_classes))
        self.is_thing = np.zeros(self.num_classes, dtype=bool)
        self.is_thing[list(self.thing_list)] = True
        self.reset()

    def reset(self):
        """Forget every image seen so far."""
        self.iou = np.zeros(self.num_classes, dtype=np.float64)
        self.tp = np.zeros(self.num_classes, dtype=np.int64)
        self.fp = np.zeros(self.num_classes, dtype=np.int64)
        self.fn = np.zeros(self.num_classes, dtype=np.int64)

    def _classes(self, ids, name):
        classes = decode(ids, self.label_divisor)[0]
        bad = (classes < 0) | (classes >= self.num_classes)
        bad &= ids != self.ignore_index
        if bad.any():
            raise ValueError("{} holds segment id {} whose class {} is outside [0, {})".format(
                name, int(ids[bad][0]), int(classes[bad][0]), self.num_classes))
        return classes

    def update(self, pred, gt):
        """Add one image.

        Args:
            pred (np.ndarray): [H, W] predicted panoptic ids.
            gt (np.ndarray): [H, W] ground-truth panoptic ids (raw_panoptic).

        Raises:
            ValueError: shapes differ, or a segment's class is outside [0, C).
        """
        pred = as_label_map(pred, "pred")
        gt = as_label_map(gt, "gt")
        check_same_shape(pred, gt, "pred", "gt")
        gt_ids, gt_index, gt_area = compact_ids(gt)
        pred_ids, pred_index, pred_area = compact_ids(pred)
        table = intersection_table(gt_index, gt_ids.size, pred_index, pred_ids.size)
        gt_cls = self._classes(gt_ids, "gt")
        pred_cls = self._classes(pred_ids, "pred")
        gt_void = gt_ids == self.ignore_index
        pred_void = pred_ids == self.ignore_index
        gt_crowd = np.isin(gt_ids, self.thing_list) & ~gt_void

        # Pixels of each prediction that lie on ground-truth void.
        void_rows = np.flatnonzero(gt_void)
        pred_on_void = table[void_rows[0]] if void_rows.size else np.zeros(pred_ids.size, np.int64)

        # Matching: same class, neither side void, ground truth not crowd, IoU > 0.5 with the
        # union leaving out the prediction's pixels on void. IoU > 0.5 makes matches unique.
        candidate = (table > 0) & (gt_cls[:, None] == pred_cls[None, :])
        candidate &= ~(gt_void | gt_crowd)[:, None] & ~pred_void[None, :]
        union = gt_area[:, None] + pred_area[None, :] - table - pred_on_void[None, :]
        iou = np.divide(table, union, out=np.zeros(table.shape), where=candidate)
        matched = candidate & (iou > 0.5)
        gi, pj = np.nonzero(matched)
        np.add.at(self.tp, gt_cls[gi], 1)
        np.add.at(self.iou, gt_cls[gi], iou[gi, pj])

        gt_matched = matched.any(axis=1)
        pred_matched = matched.any(axis=0)
        missed = ~gt_matched & ~gt_void & ~gt_crowd
        np.add.at(self.fn, gt_cls[missed], 1)

        # An unmatched prediction is forgiven when more than half of it lies on void or on the
        # crowd region of its own class (crowd id == class id, so at most one per class).
        crowd_row = np.full(self.num_classes, -1, dtype=np.int64)
        crowd_rows = np.flatnonzero(gt_crowd)
        crowd_row[gt_cls[crowd_rows]] = crowd_rows
        unmatched = np.flatnonzero(~pred_matched & ~pred_void)
        ignored = pred_on_void[unmatched].astype(np.float64)
        rows = crowd_row[pred_cls[unmatched]]
        has_crowd = rows >= 0
        ignored[has_crowd] += table[rows[has_crowd], unmatched[has_crowd]]
        counted = unmatched[ignored / pred_area[unmatched] <= 0.5]
        np.add.at(self.fp, pred_cls[counted], 1)

    def merge(self, other):
        """Add the state of another ``PanopticEvaluator`` with the same settings.

        Returns:
            PanopticEvaluator: self.
        """
        if not isinstance(other, PanopticEvaluator) or (
                other.num_classes, other.thing_list, other.ignore_index, other.label_divisor) != (
                self.num_classes, self.thing_list, self.ignore_index, self.label_divisor):
            raise ValueError("can only merge a PanopticEvaluator with the same settings")
        self.iou += other.iou
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self

    def _average(self, classes):
        pq = sq = rq = 0.0
        n = 0
        for c in classes:
            tp, fp, fn = int(self.tp[c]), int(self.fp[c]), int(self.fn[c])
            if tp + fp + fn == 0:
                continue
            n += 1
            denominator = tp + 0.5 * fp + 0.5 * fn
            pq += self.iou[c] / denominator
            sq += self.iou[c] / tp if tp else 0.0
            rq += tp / denominator
        if n == 0:
            # No class of the group has any segment: report 0 instead of dividing by zero.
            return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
        return {"pq": float(pq / n), "sq": float(sq / n), "rq": float(rq / n), "n": n}

    def evaluate(self):
        """Compute PQ, SQ and RQ for All, Things and Stuff plus per class.

        A class counts in the averages when it has TP + FP + FN > 0; SQ of a class with no TP
        is 0 (and still counted).

        Returns:
            dict: ``{'pan_seg': {'All' | 'Things' | 'Stuff': {'pq', 'sq', 'rq': fraction,
            'n': number of classes averaged}, 'per_class': {class: {'pq', 'sq', 'rq',
            'tp', 'fp', 'fn'}}}}`` (per_class holds every class, zeros when unseen).
        """
        classes = range(self.num_classes)
        results = {
            "All": self._average(classes),
            "Things": self._average([c for c in classes if self.is_thing[c]]),
            "Stuff": self._average([c for c in classes if not self.is_thing[c]]),
        }
        per_class = {}
        for c in classes:
            tp, fp, fn = int(self.tp[c]), int(self.fp[c]), int(self.fn[c])
            denominator = tp + 0.5 * fp + 0.5 * fn
            per_class[c] = {
                "pq": float(self.iou[c] / denominator) if denominator else 0.0,
                "sq": float(self.iou[c] / tp) if tp else 0.0,
                "rq": float(tp / denominator) if denominator else 0.0,
                "tp": tp, "fp": fp, "fn": fn,
            }
        results["per_class"] = per_class
        return {"pan_seg": results}
