"""Cityscapes-style instance AP as the reference defines it (docs/evaluation.md).

Units: AP values in the result dictionary are percentages (0-100).

The evaluator keeps, per image, one (ground-truth instance x predicted instance) intersection
table and evaluates every IoU threshold from it at once. Built with
``overlaps=numpy.arange(0.5, 1.0, 0.05)`` it reports both AP (mean over the thresholds) and
AP50 (the 0.5 threshold, the first of that range) from the same tables.

The reference's calling convention (``convert_pred_map``, ``convert_gt_map`` and ``update`` on
lists of masks) ends in the same tables: the converters remember which index map each of their
(read-only) masks was cut from, and ``update`` reads the index map back instead of stacking the
masks.
"""
import weakref

import numpy as np

from paddleseg_panoptic.utils.panoptic_ids import (  # noqa: F401 (re-exported)
    DEFAULT_INSTANCE_SCORE, INSTANCE_SCORES, check_instance_score, compact_ids, instance_scores,
    panoptic_instance_scores)

from .tables import as_label_map, check_same_shape, intersection_table


def average_precision(is_true, scores, misses):
    """Area under the precision/recall curve, integrated as cityscapesScripts does.

    Args:
        is_true (np.ndarray): [N] bool, entry is a matched ground truth (else a false entry).
        scores (np.ndarray): [N] float, entry confidences.
        misses (int): ground truths without any matching prediction (no entry).

    Returns:
        float: AP as a fraction; 0 when there are no entries.
    """
    if scores.size == 0:
        return 0.0
    order = np.argsort(scores, kind="stable")
    scores = scores[order]
    true_cumsum = np.cumsum(is_true[order].astype(np.int64))
    num_true = int(true_cumsum[-1])
    # One point per distinct score t: entries with score >= t are predicted positive.
    _, first = np.unique(scores, return_index=True)
    true_below = np.concatenate([[0], true_cumsum])[first]
    tp = num_true - true_below
    fp = scores.size - first - tp
    fn = true_below + misses
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.append(tp / (tp + fp), 1.0)
        recall = np.append(tp / (tp + fn), 0.0)
    # Point i gets the width (r[i-1] - r[i+1]) / 2, with r[-1] = r[0] and r[n] = 0.
    padded = np.concatenate([recall[:1], recall, [0.0]])
    widths = 0.5 * (padded[:-2] - padded[2:])
    return float(np.dot(precision, widths))


class InstanceEvaluator:
    """Instance AP over the thing classes, at one or several IoU thresholds.

    Per image, class and threshold: each ground truth matched by predictions of its class with
    IoU > threshold yields a true entry with the highest of their scores and a false entry for
    every other one; a ground truth with no match is a miss; a prediction matching no ground
    truth yields a false entry unless more than ``threshold`` of its pixels lie on the ignore
    mask. Entries accumulate over images and AP integrates precision over recall.

    Args:
        num_classes (int): number of classes C.
        overlaps (float | Sequence[float]): IoU thresholds. Default 0.5.
        thing_list (Sequence[int] | None): classes to evaluate; None means all classes.
        label_divisor (int): panoptic ids of instances are ``class * label_divisor + k``.
        instance_score (str): how a predicted instance is scored, one of
            :data:`INSTANCE_SCORES` (see :func:`instance_scores`).
    """

    def __init__(self, num_classes, overlaps=0.5, thing_list=None, label_divisor=1000,
                 instance_score=DEFAULT_INSTANCE_SCORE):
        self.instance_score = check_instance_score(instance_score)
        self.num_classes = int(num_classes)
        self.overlaps = np.atleast_1d(np.asarray(overlaps, dtype=np.float64))
        if self.overlaps.ndim != 1 or self.overlaps.size == 0:
            raise ValueError("overlaps must be a float or a non-empty list of floats")
        if thing_list is None:
            thing_list = range(self.num_classes)
        self.thing_list = tuple(int(c) for c in thing_list)
        self.label_divisor = int(label_divisor)
        self.is_thing = np.zeros(self.num_classes, dtype=bool)
        self.is_thing[[c for c in self.thing_list if 0 <= c < self.num_classes]] = True
        self.reset()

    def reset(self):
        """Forget every image seen so far."""
        num_overlaps = self.overlaps.size
        self.gt_count = np.zeros(self.num_classes, dtype=np.int64)
        self.misses = np.zeros((self.num_classes, num_overlaps), dtype=np.int64)
        # Entries in arrival order; each chunk is (class, overlap index, is_true, score).
        self._chunks = []

    # ----------------------------------------------------------------- reference entry points
    @staticmethod
    def convert_gt_map(seg_map, ins_map):
        """Ground-truth instances of one image as the reference lists them.

        Args:
            seg_map (np.ndarray): [H, W] semantic ids (raw_semantic).
            ins_map (np.ndarray): [H, W] instance ids, 0 = no instance (raw_instance).

        Returns:
            list: ``[(label, mask [H, W] bool), ...]`` in ascending instance id; label is the
            semantic id of the instance's first pixel in row-major order. The masks are
            read-only.
        """
        seg_map = as_label_map(seg_map, "seg_map")
        ins_map = as_label_map(ins_map, "ins_map")
        check_same_shape(seg_map, ins_map, "seg_map", "ins_map")
        labels, index = _gt_instances(seg_map, ins_map)
        return list(zip(labels.tolist(), _masks_of(index, labels.size)))

    def convert_pred_map(self, seg_softmax, pan_pred):
        """Predicted instances of one image.

        Args:
            seg_softmax (np.ndarray): [C, H, W] semantic probabilities.
            pan_pred (np.ndarray): [H, W] panoptic ids; instances are
                ``class * label_divisor + k`` with k >= 1.

        Returns:
            list: ``[(label, score, mask [H, W] bool), ...]`` in ascending panoptic id; score is
            the mean probability of ``label`` over the mask. The masks are read-only.
        """
        labels, scores, index, _ = self._pred_instances(seg_softmax, pan_pred)
        return list(zip(labels.tolist(), scores.tolist(), _masks_of(index, labels.size)))

    def update(self, preds, gts, ignore_mask=None):
        """Add one image given as instance lists (the reference's calling convention).

        Args:
            preds (list): ``[(label, score, mask [H, W]), ...]``.
            gts (list): ``[(label, mask [H, W]), ...]``.
            ignore_mask (np.ndarray | None): [H, W] bool, True on void pixels.
        """
        pred_masks = [np.asarray(m, dtype=bool) for _, _, m in preds]
        gt_masks = [np.asarray(m, dtype=bool) for _, m in gts]
        pred_labels = np.array([int(p[0]) for p in preds], dtype=np.int64)
        pred_scores = np.array([float(p[1]) for p in preds], dtype=np.float64)
        gt_labels = np.array([int(g[0]) for g in gts], dtype=np.int64)
        shapes = {m.shape for m in pred_masks + gt_masks}
        if ignore_mask is not None:
            ignore_mask = np.asarray(ignore_mask, dtype=bool)
            shapes.add(ignore_mask.shape)
        if len(shapes) > 1:
            raise ValueError("masks and ignore_mask must share one shape, got {}".format(
                sorted(shapes)))
        shape = shapes.pop() if shapes else (0,)
        pred_index = _index_of(pred_masks, shape)
        gt_index = _index_of(gt_masks, shape)
        if pred_index is not None and gt_index is not None:
            # Disjoint masks (always the case for maps from convert_*): one-bincount tables.
            self._add_image(gt_labels, gt_index, pred_labels, pred_scores, pred_index,
                            ignore_mask)
            return
        # Overlapping masks: count each pair directly.
        gt_area = np.array([m.sum() for m in gt_masks], dtype=np.int64)
        pred_area = np.array([m.sum() for m in pred_masks], dtype=np.int64)
        table = np.array([[np.count_nonzero(g & p) for p in pred_masks] for g in gt_masks],
                         dtype=np.int64)
        pred_void = np.array([np.count_nonzero(p & ignore_mask) if ignore_mask is not None
                              else 0 for p in pred_masks], dtype=np.int64)
        table = table.reshape(len(gt_masks), len(pred_masks))
        self._add_tables(gt_labels, gt_area, pred_labels, pred_scores, pred_area, pred_void,
                         table)

    # ------------------------------------------------------------------------- fast entry
    def update_maps(self, seg_softmax, pan_pred, seg_map, ins_map, ignore_mask=None,
                    center_heatmap=None):
        """Add one image given as maps; same result as ``update(convert_pred_map(...),
        convert_gt_map(...), ignore_mask)`` without building one mask per instance.

        Args:
            seg_softmax (np.ndarray): [C, H, W] semantic probabilities.
            pan_pred (np.ndarray): [H, W] predicted panoptic ids.
            seg_map (np.ndarray): [H, W] ground-truth semantic ids.
            ins_map (np.ndarray): [H, W] ground-truth instance ids (0 = none).
            ignore_mask (np.ndarray | None): [H, W] bool, True on void pixels.
            center_heatmap (np.ndarray | None): [H, W] centre heatmap, needed by the
                ``center`` and ``semantic_x_center`` scores.

        Returns:
            dict[int, float]: score of every predicted instance, by panoptic id.
        """
        seg_map = as_label_map(seg_map, "seg_map")
        ins_map = as_label_map(ins_map, "ins_map")
        check_same_shape(seg_map, ins_map, "seg_map", "ins_map")
        pred_labels, pred_scores, pred_index, pred_ids = self._pred_instances(
            seg_softmax, pan_pred, center_heatmap)
        check_same_shape(pred_index, ins_map, "pan_pred", "ins_map")
        gt_labels, gt_index = _gt_instances(seg_map, ins_map)
        if ignore_mask is not None:
            ignore_mask = np.asarray(ignore_mask).astype(bool)
            check_same_shape(ignore_mask, ins_map, "ignore_mask", "ins_map")
        self._add_image(gt_labels, gt_index, pred_labels, pred_scores, pred_index, ignore_mask)
        return {int(i): float(s) for i, s in zip(pred_ids, pred_scores)}

    def _pred_instances(self, seg_softmax, pan_pred, center_heatmap=None):
        """Labels [P], scores [P], an index map (-1 = none) and panoptic ids [P] of the
        predicted instances."""
        pan_pred = as_label_map(pan_pred, "pan_pred")
        ids, labels, scores, index = instance_scores(
            pan_pred, self.label_divisor, seg_softmax, center_heatmap, self.instance_score,
            ("pan_pred", "seg_softmax", "center_heatmap"))
        return labels, scores, index, ids

    def _add_image(self, gt_labels, gt_index, pred_labels, pred_scores, pred_index,
                   ignore_mask):
        """Build the intersection table from index maps (-1 = none) and add the image."""
        num_gt, num_pred = gt_labels.size, pred_labels.size
        # Shift by one so that "none" is row / column 0 of the table.
        table = intersection_table(gt_index + 1, num_gt + 1, pred_index + 1, num_pred + 1)
        gt_area = table[1:].sum(axis=1)
        pred_area = table[:, 1:].sum(axis=0)
        if ignore_mask is not None and num_pred:
            pred_void = np.bincount(pred_index[ignore_mask] + 1, minlength=num_pred + 1)[1:]
        else:
            pred_void = np.zeros(num_pred, dtype=np.int64)
        self._add_tables(gt_labels, gt_area, pred_labels, pred_scores, pred_area, pred_void,
                         table[1:, 1:])

    def _add_tables(self, gt_labels, gt_area, pred_labels, pred_scores, pred_area, pred_void,
                    table):
        """Turn one image's tables into entries and misses for every threshold.

        Args:
            gt_labels, gt_area: [G] class and pixel count of each ground-truth instance.
            pred_labels, pred_scores, pred_area, pred_void: [P] class, score, pixel count and
                pixels on the ignore mask of each prediction.
            table: [G, P] intersection pixel counts.
        """
        in_range = (gt_labels >= 0) & (gt_labels < self.num_classes)
        gt_keep = np.flatnonzero(in_range)
        gt_keep = gt_keep[self.is_thing[gt_labels[gt_keep]]]
        in_range = (pred_labels >= 0) & (pred_labels < self.num_classes)
        pred_keep = np.flatnonzero(in_range)
        pred_keep = pred_keep[self.is_thing[pred_labels[pred_keep]]]
        gt_labels, gt_area = gt_labels[gt_keep], gt_area[gt_keep].astype(np.float64)
        pred_labels, pred_scores = pred_labels[pred_keep], pred_scores[pred_keep]
        pred_area = pred_area[pred_keep].astype(np.float64)
        pred_void = pred_void[pred_keep].astype(np.float64)
        table = table[np.ix_(gt_keep, pred_keep)].astype(np.float64)
        np.add.at(self.gt_count, gt_labels, 1)

        same = gt_labels[:, None] == pred_labels[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = table / (gt_area[:, None] + pred_area[None, :] - table)
        iou = np.where(same & (table > 0), iou, -1.0)
        # match[t, g, p]: prediction p overlaps ground truth g above threshold t.
        match = iou[None] > self.overlaps[:, None, None]
        scores = np.broadcast_to(pred_scores, match.shape)
        masked = np.where(match, scores, -np.inf)
        has_match = match.any(axis=2)
        best = masked.argmax(axis=2) if pred_labels.size else np.zeros(has_match.shape, np.int64)

        t_idx, g_idx = np.nonzero(has_match)
        true_entries = (gt_labels[g_idx], t_idx, np.ones(t_idx.size, bool),
                        pred_scores[best[t_idx, g_idx]])
        # Further predictions on an already matched ground truth become false entries.
        extra = match.copy()
        extra[t_idx, g_idx, best[t_idx, g_idx]] = False
        t_e, g_e, p_e = np.nonzero(extra)
        extra_entries = (gt_labels[g_e], t_e, np.zeros(t_e.size, bool), pred_scores[p_e])

        t_m, g_m = np.nonzero(~has_match)
        np.add.at(self.misses, (gt_labels[g_m], t_m), 1)

        with np.errstate(invalid="ignore", divide="ignore"):
            void_share = pred_void / pred_area
        lonely = ~match.any(axis=1) & (void_share[None, :] <= self.overlaps[:, None])
        t_f, p_f = np.nonzero(lonely)
        false_entries = (pred_labels[p_f], t_f, np.zeros(t_f.size, bool), pred_scores[p_f])

        parts = [true_entries, extra_entries, false_entries]
        chunk = tuple(np.concatenate([part[k] for part in parts]) for k in range(4))
        if chunk[0].size:
            self._chunks.append((chunk[0].astype(np.int64), chunk[1].astype(np.int64),
                                 chunk[2].astype(bool), chunk[3].astype(np.float64)))

    # ---------------------------------------------------------------------------- results
    def merge(self, other):
        """Append the entries and add the counts of another evaluator with the same settings.

        Returns:
            InstanceEvaluator: self.
        """
        if not isinstance(other, InstanceEvaluator) or other.num_classes != self.num_classes \
                or other.thing_list != self.thing_list \
                or other.label_divisor != self.label_divisor \
                or other.instance_score != self.instance_score \
                or not np.array_equal(other.overlaps, self.overlaps):
            raise ValueError("can only merge an InstanceEvaluator with the same settings")
        self.gt_count += other.gt_count
        self.misses += other.misses
        self._chunks.extend(other._chunks)
        return self

    def _entries(self):
        if not self._chunks:
            return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool),
                    np.zeros(0, np.float64))
        return tuple(np.concatenate([c[k] for c in self._chunks]) for k in range(4))

    def ap_table(self):
        """AP (fraction) of every thing class with ground truth at every threshold.

        Returns:
            dict: ``{class: np.ndarray [len(overlaps)]}``.
        """
        classes, t_index, is_true, scores = self._entries()
        table = {}
        for c in self.thing_list:
            if not 0 <= c < self.num_classes or self.gt_count[c] == 0:
                continue
            of_class = classes == c
            table[c] = np.array([
                average_precision(is_true[sel], scores[sel], int(self.misses[c, t]))
                for t in range(self.overlaps.size)
                for sel in [of_class & (t_index == t)]])
        return table

    def evaluate(self):
        """Compute AP (mean over the thresholds) and, when 0.5 is a threshold, AP50.

        mAP averages over the thing classes that have ground truth; with no such class it is 0
        and ``n`` is 0. Classes without ground truth get no AP entry.

        Returns:
            dict: ``{'ins_seg': {'mAP': percent, 'AP': {class: percent}, 'n': classes averaged,
            'mAP50': percent, 'AP50': {class: percent}}}`` (the last two only when 0.5 is one
            of the overlaps).
        """
        table = self.ap_table()
        ap = {c: 100.0 * float(values.mean()) for c, values in table.items()}
        res = {"mAP": float(np.mean(list(ap.values()))) if ap else 0.0, "AP": ap,
               "n": len(ap)}
        at_half = np.flatnonzero(self.overlaps == 0.5)
        if at_half.size:
            ap50 = {c: 100.0 * float(values[at_half[0]]) for c, values in table.items()}
            res["mAP50"] = float(np.mean(list(ap50.values()))) if ap50 else 0.0
            res["AP50"] = ap50
        return {"ins_seg": res}


def _gt_instances(seg_map, ins_map):
    """Labels [G] and an index map (-1 = none) of the ground-truth instances (ins_map > 0)."""
    ids, index, _ = compact_ids(ins_map)
    keep = ids > 0
    remap = np.full(ids.size, -1, dtype=np.int32)
    remap[keep] = np.arange(int(keep.sum()), dtype=np.int32)
    gt_index = np.take(remap, index)
    num_gt = int(keep.sum())
    if num_gt == 0:
        return np.zeros(0, np.int64), gt_index
    # Label = semantic id of each instance's first pixel in row-major order. That pixel starts
    # a run of equal ids in the flattened map, and runs are few, so only run starts are scanned.
    flat_ins = ins_map.ravel()
    starts = np.concatenate([[0], np.flatnonzero(flat_ins[1:] != flat_ins[:-1]) + 1])
    run_ids, first_run = np.unique(flat_ins[starts], return_index=True)
    first_pixel = starts[first_run[run_ids > 0]]
    labels = seg_map.ravel()[first_pixel]
    return labels.astype(np.int64), gt_index


# Index maps of the masks made by the converters, by id of each mask's read-only buffer:
# (weak reference to the buffer, index map, position, masks cut from the map). An entry goes
# with its buffer; it only saves work, and a mask it knows is unchanged (read-only).
_MASK_SOURCES = {}


def _masks_of(index, count):
    """Read-only [H, W] bool masks ``index == k`` for k < count, recorded for :func:`_index_of`.

    Each mask is written from its own pixels only (fresh zero pages are free until touched),
    so the cost follows the instances' area rather than count x image size.
    """
    flat = index.ravel()
    pixels = np.flatnonzero(flat >= 0)
    owner = flat[pixels].astype(np.int16 if count < 2 ** 15 else np.int64)
    order = np.argsort(owner, kind="stable")  # a radix sort on int16
    bounds = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=count), out=bounds[1:])
    pixels = pixels[order]
    masks = []
    for k in range(count):
        buffer = np.zeros(flat.size, dtype=bool)
        buffer[pixels[bounds[k]:bounds[k + 1]]] = True
        buffer.flags.writeable = False  # views of it cannot be made writeable either
        key = id(buffer)
        _MASK_SOURCES[key] = (weakref.ref(buffer), index, k, count)
        weakref.finalize(buffer, _MASK_SOURCES.pop, key, None)
        masks.append(buffer.reshape(index.shape))
    return masks


def _index_of(masks, shape):
    """Index map (-1 = none, read-only) of pairwise disjoint masks, or None when two overlap.

    Masks that are all distinct, unchanged masks of one converter call are read back from the
    converter's index map; any other list is stacked mask by mask.
    """
    sources = [_MASK_SOURCES.get(id(m.base)) for m in masks]
    if masks and all(s is not None and s[0]() is m.base and s[1] is sources[0][1]
                     and m.shape == shape for s, m in zip(sources, masks)) \
            and len({s[2] for s in sources}) == len(masks):
        source = sources[0][1]
        if [s[2] for s in sources] == list(range(sources[0][3])):  # the converter's whole list
            return source
        remap = np.full(sources[0][3] + 1, -1, dtype=np.int32)  # index -1 -> slot 0
        remap[[s[2] + 1 for s in sources]] = np.arange(len(masks), dtype=np.int32)
        return np.take(remap, source + 1)
    stacked = np.zeros(shape, dtype=np.int32)
    for k, mask in enumerate(masks):
        np.copyto(stacked, k + 1, where=mask)
    # Disjoint exactly when the union is as large as the masks together.
    if np.count_nonzero(stacked) != sum(np.count_nonzero(m) for m in masks):
        return None
    stacked -= 1
    return stacked
