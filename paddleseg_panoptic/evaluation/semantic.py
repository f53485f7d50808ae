"""Semantic segmentation metrics from an accumulated confusion matrix.

Units: every value in the result dictionary is a percentage (0-100), as in the reference.
"""
import numpy as np

from .tables import as_label_map, check_same_shape


class SemanticEvaluator:
    """Confusion-matrix evaluator for mIoU, fwIoU, mean class accuracy and pixel accuracy.

    Ground-truth pixels equal to ``ignore_index`` are left out. The state is one
    [num_classes, num_classes] int64 matrix (rows: ground truth, columns: prediction), so
    ``merge`` is an exact sum and the results do not depend on the order of the images.

    Args:
        num_classes (int): number of classes C; labels are 0 .. C - 1.
        ignore_index (int): ground-truth value of void pixels. Default 255.
    """

    def __init__(self, num_classes, ignore_index=255):
        if int(num_classes) <= 0:
            raise ValueError("num_classes must be positive, got {}".format(num_classes))
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.reset()

    def reset(self):
        """Forget every image seen so far."""
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, pred, gt):
        """Add one image.

        Args:
            pred (np.ndarray): [H, W] predicted class ids in [0, C).
            gt (np.ndarray): [H, W] ground-truth class ids in [0, C) or ``ignore_index``.

        Raises:
            ValueError: shapes differ, or a label outside [0, C) on a non-void pixel.
        """
        pred = as_label_map(pred, "pred")
        gt = as_label_map(gt, "gt")
        check_same_shape(pred, gt, "pred", "gt")
        num = self.num_classes
        # Void ground truth goes to an extra row that is dropped afterwards: one bincount over
        # the whole image, no boolean gathers.
        gt = np.where(gt == self.ignore_index, num, gt)
        for name, values, high in (("gt", gt, num), ("pred", pred, num - 1)):
            if values.size and (values.min() < 0 or values.max() > high):
                bad = values[(values < 0) | (values > high)]
                if name == "pred":
                    bad = bad[gt[(values < 0) | (values > high)] != num]
                if bad.size:
                    raise ValueError("{} holds label {} outside [0, {}) (and not ignore_index "
                                     "{})".format(name, int(bad[0]), num, self.ignore_index))
                # Out-of-range predictions only on void pixels: they do not count.
                pred = np.where(gt == num, 0, pred)
        counts = np.bincount((gt * num + pred).ravel(), minlength=(num + 1) * num)
        self.confusion += counts[:num * num].reshape(num, num)

    def merge(self, other):
        """Add the state of another ``SemanticEvaluator`` (e.g. from another process).

        Returns:
            SemanticEvaluator: self.
        """
        if not isinstance(other, SemanticEvaluator) or other.num_classes != self.num_classes \
                or other.ignore_index != self.ignore_index:
            raise ValueError("can only merge a SemanticEvaluator with the same num_classes and "
                             "ignore_index")
        self.confusion += other.confusion
        return self

    def evaluate(self):
        """Compute the metrics of every image added so far.

        mIoU averages IoU over the classes present in the ground truth or predicted on non-void
        ground-truth pixels; fwIoU weights IoU by ground-truth frequency; mACC averages
        correct / ground-truth pixels over classes with ground truth; pACC is the share of
        correct non-void pixels. All 0 when no pixel was counted.

        Returns:
            dict: ``{'sem_seg': {'mIoU', 'fwIoU', 'mACC', 'pACC': float (percent),
            'IoU': {class: percent} for classes counted in mIoU,
            'ACC': {class: percent} for classes with ground truth}}``.
        """
        conf = self.confusion.astype(np.float64)
        tp = np.diag(conf)
        gt_pixels = conf.sum(axis=1)
        pred_pixels = conf.sum(axis=0)
        union = gt_pixels + pred_pixels - tp
        iou_valid = union > 0
        acc_valid = gt_pixels > 0
        iou = np.divide(tp, union, out=np.zeros_like(tp), where=iou_valid)
        acc = np.divide(tp, gt_pixels, out=np.zeros_like(tp), where=acc_valid)
        total = gt_pixels.sum()
        res = {
            "mIoU": 100.0 * float(iou[iou_valid].mean()) if iou_valid.any() else 0.0,
            "fwIoU": 100.0 * float(np.sum(iou * gt_pixels) / total) if total else 0.0,
            "mACC": 100.0 * float(acc[acc_valid].mean()) if acc_valid.any() else 0.0,
            "pACC": 100.0 * float(tp.sum() / total) if total else 0.0,
            "IoU": {int(c): 100.0 * float(iou[c]) for c in np.flatnonzero(iou_valid)},
            "ACC": {int(c): 100.0 * float(acc[c]) for c in np.flatnonzero(acc_valid)},
        }
        return {"sem_seg": res}
