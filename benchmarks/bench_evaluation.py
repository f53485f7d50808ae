"""Per-image evaluator time at 1024x2048: vectorised evaluators vs a per-mask implementation.

``instance_compatible`` is the instance evaluator called the reference's way
(``update(convert_pred_map(...), convert_gt_map(...))``), compared with the per-mask
instance time; its numbers must equal ``update_maps``'s.

Usage: python benchmarks/bench_evaluation.py [--height 1024] [--width 2048] [--repeats 3]
Writes benchmarks/results/evaluation.json.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddleseg_panoptic.evaluation import (  # noqa: E402
    InstanceEvaluator, PanopticEvaluator, SemanticEvaluator)
from _results import result_path, write_json  # noqa: E402

NUM_CLASSES = 19
THINGS = tuple(range(11, 19))
OVERLAPS = np.arange(0.5, 1.0, 0.05)


def synthetic_image(rng, height, width, num_stuff=11, num_instances=30):
    """Cityscapes-like maps: stuff bands, box instances, a crowd box, void; jittered prediction.

    Returns:
        dict: raw_semantic, raw_instance, raw_panoptic [H, W] int64; pred_panoptic,
        pred_semantic [H, W] int64; softmax [C, H, W] float32.
    """
    pan = np.zeros((height, width), np.int64)
    bands = np.linspace(0, height, num_stuff + 1).astype(int)
    for k in range(num_stuff):
        pan[bands[k]:bands[k + 1]] = k
    pred = pan.copy()
    for k in range(num_instances):
        cls = THINGS[k % len(THINGS)]
        h, w = rng.integers(30, 250), rng.integers(30, 300)
        y, x = rng.integers(0, height - h), rng.integers(0, width - w)
        pan[y:y + h, x:x + w] = cls * 1000 + k + 1
        dy, dx = rng.integers(-h // 5, h // 5 + 1), rng.integers(-w // 5, w // 5 + 1)
        y0, x0 = max(0, y + dy), max(0, x + dx)
        pred[y0:y0 + h, x0:x0 + w] = cls * 1000 + k + 1
    pan[50:150, 1500:1700] = 13                       # a crowd region
    pan[-60:] = 255                                    # void (ego vehicle)
    semantic = np.where(pan >= 1000, pan // 1000, pan)
    ids = np.unique(pan[pan >= 1000])
    instance = np.zeros_like(pan)
    for k, value in enumerate(ids):
        instance[pan == value] = k + 1
    pred_semantic = np.where(pred >= 1000, pred // 1000, pred)
    logits = rng.random((NUM_CLASSES, height, width), dtype=np.float32)
    np.put_along_axis(logits, pred_semantic[None], 3.0, axis=0)
    softmax = np.exp(logits)
    softmax /= softmax.sum(axis=0, keepdims=True)
    return {"raw_semantic": semantic, "raw_instance": instance, "raw_panoptic": pan,
            "pred_panoptic": pred, "pred_semantic": pred_semantic, "softmax": softmax}


def run_vectorised(img):
    sem = SemanticEvaluator(NUM_CLASSES)
    pan = PanopticEvaluator(NUM_CLASSES, THINGS)
    ins = InstanceEvaluator(NUM_CLASSES, OVERLAPS, thing_list=THINGS)
    times = {}
    t0 = time.perf_counter()
    sem.update(img["pred_semantic"], img["raw_semantic"])
    t1 = time.perf_counter()
    pan.update(img["pred_panoptic"], img["raw_panoptic"])
    t2 = time.perf_counter()
    ins.update_maps(img["softmax"], img["pred_panoptic"], img["raw_semantic"],
                    img["raw_instance"], ignore_mask=img["raw_semantic"] == 255)
    t3 = time.perf_counter()
    times.update(semantic=t1 - t0, panoptic=t2 - t1, instance=t3 - t2, total=t3 - t0)
    # The reference's calling convention: instance lists from the converters, then update().
    compat = InstanceEvaluator(NUM_CLASSES, OVERLAPS, thing_list=THINGS)
    t4 = time.perf_counter()
    compat.update(compat.convert_pred_map(img["softmax"], img["pred_panoptic"]),
                  compat.convert_gt_map(img["raw_semantic"], img["raw_instance"]),
                  ignore_mask=img["raw_semantic"] == 255)
    times["instance_compatible"] = time.perf_counter() - t4
    assert compat.evaluate() == ins.evaluate(), "compatible calls and update_maps differ"
    return times, (pan.tp.copy(), ins.evaluate())


# ------------------------------------------------------------- straightforward per-mask version
def per_mask_panoptic(pred, gt, ignore=255, div=1000):
    tp = np.zeros(NUM_CLASSES, int)
    fp = np.zeros(NUM_CLASSES, int)
    fn = np.zeros(NUM_CLASSES, int)
    iou_sum = np.zeros(NUM_CLASSES)

    def cls(v):
        return v // div if v > div else v

    void = gt == ignore
    gt_masks = {v: gt == v for v in np.unique(gt) if v != ignore}
    pred_masks = {v: pred == v for v in np.unique(pred) if v != ignore}
    gt_hit, pred_hit = set(), set()
    for g, gm in gt_masks.items():
        if g in THINGS:
            continue
        for p, pm in pred_masks.items():
            if cls(g) != cls(p):
                continue
            inter = np.count_nonzero(gm & pm)
            union = np.count_nonzero(gm) + np.count_nonzero(pm) - inter \
                - np.count_nonzero(pm & void)
            if inter / union > 0.5:
                tp[cls(g)] += 1
                iou_sum[cls(g)] += inter / union
                gt_hit.add(g)
                pred_hit.add(p)
    for g in gt_masks:
        if g not in gt_hit and g not in THINGS:
            fn[cls(g)] += 1
    for p, pm in pred_masks.items():
        if p in pred_hit:
            continue
        crowd = gt_masks.get(cls(p)) if cls(p) in THINGS else None
        ignored = np.count_nonzero(pm & void)
        if crowd is not None:
            ignored += np.count_nonzero(pm & crowd)
        if ignored / np.count_nonzero(pm) <= 0.5:
            fp[cls(p)] += 1
    return tp


def per_mask_instance(softmax, pan, seg, ins):
    ignore = seg == 255
    gts = []
    for i in np.unique(ins):
        if i:
            m = ins == i
            gts.append((int(seg[m][0]), m))
    preds = []
    for v in np.unique(pan):
        if v >= 1000 and v % 1000:
            m = pan == v
            preds.append((int(v // 1000), float(np.mean(softmax[v // 1000][m])), m))
    # Every prediction mask against every ground-truth mask (as the reference's matcher does),
    # keeping the pairs of the same class that overlap.
    entries = []
    for label, score, pm in preds:
        p_area = np.count_nonzero(pm)
        p_void = np.count_nonzero(pm & ignore)
        overlaps = []
        for g_label, gm in gts:
            inter = np.count_nonzero(gm & pm)
            if inter and g_label == label:
                overlaps.append(inter / (np.count_nonzero(gm) + p_area - inter))
        entries.append((label, score, max(overlaps, default=0.0), p_void / p_area))
    return entries


def run_per_mask(img):
    t0 = time.perf_counter()
    # The reference's semantic evaluator is already one bincount; the same here.
    gt, pred = img["raw_semantic"], img["pred_semantic"]
    valid = gt != 255
    np.bincount(gt[valid] * NUM_CLASSES + pred[valid], minlength=NUM_CLASSES ** 2)
    t1 = time.perf_counter()
    tp = per_mask_panoptic(img["pred_panoptic"], img["raw_panoptic"])
    t2 = time.perf_counter()
    per_mask_instance(img["softmax"], img["pred_panoptic"], img["raw_semantic"],
                      img["raw_instance"])
    t3 = time.perf_counter()
    return {"semantic": t1 - t0, "panoptic": t2 - t1, "instance": t3 - t2, "total": t3 - t0}, tp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    img = synthetic_image(np.random.default_rng(args.seed), args.height, args.width)
    segments = int(np.unique(img["raw_panoptic"]).size + np.unique(img["pred_panoptic"]).size)
    ours, base = [], []
    for _ in range(args.repeats):
        times, (tp, _) = run_vectorised(img)
        ours.append(times)
        times, tp_ref = run_per_mask(img)
        base.append(times)
        assert np.array_equal(tp, tp_ref), "per-mask and vectorised panoptic TP differ"
    median = {name: {k: float(np.median([t[k] for t in runs])) for k in runs[0]}
              for name, runs in (("vectorised", ours), ("per_mask", base))}
    speedup = {k: median["per_mask"][k] / median["vectorised"][k] for k in median["per_mask"]}
    speedup["instance_compatible"] = (median["per_mask"]["instance"]
                                      / median["vectorised"]["instance_compatible"])
    result = {"baseline": "per-mask: boolean mask per segment, every prediction against every "
                          "ground-truth mask (instances) / every same-class pair (panoptic)",
              "image_size": [args.height, args.width], "segments_gt_plus_pred": segments,
              "repeats": args.repeats, "seconds_median": median, "speedup": speedup,
              "machine": platform.platform(), "cpu_count": os.cpu_count()}
    print(json.dumps(result, indent=2))
    write_json(result_path("evaluation.json"), result)


if __name__ == "__main__":
    main()
