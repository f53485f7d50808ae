"""Training curves from ``save_dir/metrics.jsonl`` as one PNG (matplotlib, no display needed).

Three panels against the iteration: the loss and its terms (log scale), the learning rate, and
the evaluation metrics in percent (PQ, SQ, RQ, mIoU, mAP, mAP50).
"""
import os

from paddleseg_panoptic.core.train_records import METRICS_FILE, read_metrics

__all__ = ["CURVES_FILE", "plot_curves"]

CURVES_FILE = "curves.png"
_LOSSES = ("loss", "loss_semantic", "loss_center", "loss_offset")
# name -> factor to percent (PQ / SQ / RQ are fractions, the others percent already)
_EVALS = (("PQ", 100.0), ("SQ", 100.0), ("RQ", 100.0), ("mIoU", 1.0), ("mAP", 1.0),
          ("mAP50", 1.0))


def _series(records, key, factor=1.0):
    points = [(r["iteration"], r[key] * factor) for r in records
              if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def plot_curves(save_dir, out=None, dpi=100):
    """Draw the curves of the run in ``save_dir``.

    Args:
        save_dir (str): a training output directory (with ``metrics.jsonl``).
        out (str, optional): PNG path; default ``save_dir/curves.png``.
        dpi (int): resolution of the picture (the figure is 8 x 9 inches).

    Returns:
        str: the PNG written.

    Raises:
        FileNotFoundError: ``save_dir`` has no ``metrics.jsonl``.
        ValueError: it holds no training record, or a line that is not a record.
    """
    # The object API draws without pyplot's global state and without choosing a backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = os.path.join(save_dir, METRICS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError("{} does not exist (written by tools/train.py since this "
                                "version)".format(path))
    records = read_metrics(path)
    train = [r for r in records if r.get("type") == "train"]
    evals = [r for r in records if r.get("type") == "eval"]
    if not train:
        raise ValueError("{} holds no training record yet".format(path))
    out = out or os.path.join(save_dir, CURVES_FILE)

    figure = Figure(figsize=(8, 9), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    loss_ax, lr_ax, eval_ax = figure.subplots(3, 1, sharex=True)
    for key in _LOSSES:
        x, y = _series(train, key)
        if any(v > 0 for v in y):
            loss_ax.plot(x, [v if v > 0 else float("nan") for v in y], label=key)
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("loss (log scale)")
    loss_ax.legend(loc="upper right", fontsize="small")
    lr_ax.plot(*_series(train, "lr"), color="tab:purple")
    lr_ax.set_ylabel("learning rate")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if evals:
        for key, factor in _EVALS:
            x, y = _series(evals, key, factor)
            if x:
                eval_ax.plot(x, y, marker="o", label=key)
        eval_ax.legend(loc="upper left", fontsize="small")
    else:
        eval_ax.text(0.5, 0.5, "no evaluation yet (train with --do_eval)", ha="center",
                     va="center", transform=eval_ax.transAxes)
    eval_ax.set_ylabel("validation (%)")
    eval_ax.set_xlabel("iteration")
    for ax in (loss_ax, lr_ax, eval_ax):
        ax.grid(True, alpha=0.3)
    figure.suptitle(os.path.basename(os.path.normpath(os.path.abspath(save_dir))))
    figure.savefig(out)
    return out
