"""Text and JSON views of the evaluators' results.

The result dictionary keeps the reference's units: PQ / SQ / RQ are fractions, IoU, accuracy
and AP are percentages. The summary line keeps the reference's form (PQ as a fraction); the
tables show everything in percent.
"""
import json
import math

import numpy as np


def summary_line(results):
    """The one-line summary, e.g. ``PQ: 0.6032, SQ: 0.8056, RQ: 0.7356, mIoU: 79.67, ...``.

    Args:
        results (dict): with ``pan_seg``, ``sem_seg`` and ``ins_seg`` entries.
    """
    pq = results["pan_seg"]["All"]
    ins = results["ins_seg"]
    return "PQ: {:.4f}, SQ: {:.4f}, RQ: {:.4f}, mIoU: {:.2f}, mAP: {:.2f}, mAP50: {:.2f}".format(
        pq["pq"], pq["sq"], pq["rq"], results["sem_seg"]["mIoU"], ins["mAP"],
        ins.get("mAP50", float("nan")))


def _table(header, rows):
    widths = [max(len(str(r[k])) for r in [header] + rows) for k in range(len(header))]
    lines = []
    for n, row in enumerate([header] + rows):
        cells = [str(c).ljust(w) if k == 0 else str(c).rjust(w)
                 for k, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _pct(value):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else "{:.2f}".format(value)


def tables(results, class_names=None):
    """Readable tables: PQ / SQ / RQ for All / Things / Stuff, then per class PQ, SQ, RQ, IoU,
    AP and AP50, all in percent (``-``: the class has no such value).

    Args:
        results (dict): as returned by :func:`paddleseg_panoptic.core.evaluate.evaluate`.
        class_names (Sequence[str] | None): names by class id.
    """
    pan = results["pan_seg"]
    groups = [[g, _pct(100 * pan[g]["pq"]), _pct(100 * pan[g]["sq"]),
               _pct(100 * pan[g]["rq"]), pan[g]["n"]] for g in ("All", "Things", "Stuff")]
    out = [_table(["", "PQ", "SQ", "RQ", "#classes"], groups)]
    iou = results["sem_seg"].get("IoU", {})
    ap = results["ins_seg"].get("AP", {})
    ap50 = results["ins_seg"].get("AP50", {})
    rows = []
    for c, stats in sorted(pan["per_class"].items()):
        name = class_names[c] if class_names is not None and c < len(class_names) else str(c)
        seen = stats.get("tp", 1) + stats.get("fp", 0) + stats.get("fn", 0) > 0
        pq_sq_rq = [_pct(100 * stats[k]) if seen else "-" for k in ("pq", "sq", "rq")]
        rows.append(["{} {}".format(c, name)] + pq_sq_rq +
                    [_pct(iou.get(c)), _pct(ap.get(c)), _pct(ap50.get(c))])
    out.append(_table(["class", "PQ", "SQ", "RQ", "IoU", "AP", "AP50"], rows))
    return "\n\n".join(out)


def to_jsonable(value):
    """Recursively turn numpy scalars into Python numbers and dict keys into strings, and NaN
    into None, so that ``json.dump`` writes standard JSON."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(results, path):
    """Write ``results`` to ``path`` as standard JSON (see :func:`to_jsonable`)."""
    with open(path, "w") as f:
        json.dump(to_jsonable(results), f, indent=2, sort_keys=True)


def official_comparison(results):
    """Table of our PQ / SQ / RQ, mIoU, AP and AP50 beside the official evaluators' (percent).

    Args:
        results (dict): with an ``official`` entry (from ``OfficialWriter.run``).
    """
    off = results["official"]
    pan, off_pan = results["pan_seg"]["All"], off.get("pan_seg", {}).get("All", {})
    rows = [[name, _pct(100 * pan[key]), _pct(100 * off_pan[key]) if key in off_pan else "-"]
            for name, key in (("PQ", "pq"), ("SQ", "sq"), ("RQ", "rq"))]
    rows.append(["mIoU", _pct(results["sem_seg"]["mIoU"]),
                 _pct(off.get("sem_seg", {}).get("mIoU"))])
    rows.append(["AP", _pct(results["ins_seg"]["mAP"]), _pct(off.get("ins_seg", {}).get("mAP"))])
    rows.append(["AP50", _pct(results["ins_seg"].get("mAP50")),
                 _pct(off.get("ins_seg", {}).get("mAP50"))])
    return ("Ours vs cityscapesScripts (percent; AP definitions differ, see "
            "docs/evaluation.md):\n" + _table(["metric", "ours", "official"], rows))
