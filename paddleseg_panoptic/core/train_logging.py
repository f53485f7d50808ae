"""Training progress: windowed averages, the log line, VisualDL scalars and images,
``metrics.jsonl`` records, run records.

The log line every ``log_iters`` iterations (rank 0)::

    [TRAIN] epoch: 1, iter: 20/1000, loss: 1.2345 (semantic: 1.1000, center: 0.1200,
    offset: 0.0145), lr: 0.000049, batch_cost: 0.5123, reader_cost: 0.01234,
    ips: 15.6164 samples/sec | ETA 00:08:21

``loss`` and its parts are averages over the window since the previous line; ``batch_cost`` is
the mean wall time of one iteration (data included) and ``reader_cost`` the part of it spent
waiting for the data loader; ``ips`` counts samples of the global batch (all processes) per
second; ETA extrapolates ``batch_cost`` to the remaining iterations.
"""
import json
import os
import platform
import sys
import time

import numpy as np
import paddle
from paddleseg.utils import logger

from paddleseg_panoptic.utils.device import accelerator_info

__all__ = ["TrainLogger", "format_eta", "environment_info", "write_run_records",
           "EVAL_SCALARS"]

LOSS_PARTS = ("semantic", "center", "offset")
# Evaluation numbers written as ``Evaluate/<name>`` scalars (the reference's PQ, mIoU, mAP and
# mAP50 first, so dashboards made for it keep working).
EVAL_SCALARS = ("PQ", "mIoU", "mAP", "mAP50", "SQ", "RQ")


def format_eta(seconds):
    seconds = max(0, int(seconds))
    return "{:02d}:{:02d}:{:02d}".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


class TrainLogger:
    """Accumulates per-iteration measurements and emits them every ``log_iters`` iterations.

    Args:
        iters (int): total iterations of the run.
        log_iters (int): iterations per log line.
        global_batch_size (int): samples per iteration over all processes (for ``ips``).
        vdl_dir (str|None): VisualDL log directory; None disables VisualDL. Only pass it on
            rank 0.
        enabled (bool): False on ranks other than 0 (they log nothing).
        metrics (MetricsLog|None): where the log-step and evaluation records go (rank 0).
    """

    def __init__(self, iters, log_iters, global_batch_size, vdl_dir=None, enabled=True,
                 metrics=None):
        self.iters = int(iters)
        self.log_iters = max(1, int(log_iters))
        self.global_batch_size = int(global_batch_size)
        self.enabled = enabled
        self.metrics = metrics if enabled else None
        self.writer = None
        if vdl_dir is not None and enabled:
            from visualdl import LogWriter
            self.writer = LogWriter(logdir=vdl_dir)
        self._reset_window()

    def _reset_window(self):
        self._sums = {key: 0.0 for key in ("total",) + LOSS_PARTS}
        self._batch_cost = 0.0
        self._reader_cost = 0.0
        self._count = 0

    def update(self, losses, reader_cost, batch_cost):
        """Record one iteration.

        Args:
            losses (dict): Python floats ``{'total', 'semantic', 'center', 'offset'}``.
            reader_cost (float): seconds spent waiting for this batch.
            batch_cost (float): seconds of the whole iteration, data included.
        """
        for key in self._sums:
            self._sums[key] += losses[key]
        self._reader_cost += reader_cost
        self._batch_cost += batch_cost
        self._count += 1

    def maybe_log(self, iteration, epoch, lr):
        """Write the log line and VisualDL scalars when ``iteration`` is a multiple of
        ``log_iters`` or the last one (``iters``); returns the averaged values then (None
        otherwise)."""
        if (iteration % self.log_iters != 0 and iteration != self.iters) or self._count == 0:
            return None
        count = self._count
        avg = {key: value / count for key, value in self._sums.items()}
        batch_cost = self._batch_cost / count
        reader_cost = self._reader_cost / count
        ips = self.global_batch_size / batch_cost if batch_cost > 0 else 0.0
        eta = format_eta((self.iters - iteration) * batch_cost)
        if self.enabled:
            logger.info(
                "[TRAIN] epoch: {}, iter: {}/{}, loss: {:.4f} (semantic: {:.4f}, center: {:.4f}, "
                "offset: {:.4f}), lr: {:.6f}, batch_cost: {:.4f}, reader_cost: {:.5f}, ips: {:.4f} "
                "samples/sec | ETA {}".format(
                    epoch, iteration, self.iters, avg["total"], avg["semantic"], avg["center"],
                    avg["offset"], lr, batch_cost, reader_cost, ips, eta))
        if self.writer is not None:
            self.writer.add_scalar("Train/loss", avg["total"], iteration)
            for key in LOSS_PARTS:
                self.writer.add_scalar("Train/loss_" + key, avg[key], iteration)
            self.writer.add_scalar("Train/lr", lr, iteration)
            self.writer.add_scalar("Train/batch_cost", batch_cost, iteration)
            self.writer.add_scalar("Train/reader_cost", reader_cost, iteration)
        self._reset_window()
        avg.update(batch_cost=batch_cost, reader_cost=reader_cost, ips=ips)
        if self.metrics is not None:
            record = {"loss" if k == "total" else "loss_" + k: v for k, v in avg.items()
                      if k == "total" or k in LOSS_PARTS}
            record.update(epoch=epoch, lr=lr, batch_cost=batch_cost, reader_cost=reader_cost,
                          ips=ips)
            self.metrics.append("train", iteration, record)
        return avg

    def log_evaluation(self, iteration, metrics, best):
        """Log PQ / mIoU / mAP of an evaluation and the best PQ so far.

        Args:
            iteration (int)
            metrics (dict): ``{'PQ': fraction, 'mIoU': percent, 'mAP': percent, ...}`` (see
                :func:`~paddleseg_panoptic.core.train.summarize_metrics`), optionally with the
                evaluation's ``seconds``.
            best (dict): ``{'PQ': ..., 'iteration': ...}`` of the best evaluation so far.
        """
        if not self.enabled:
            return
        logger.info("[EVAL] iter: {}, PQ: {:.4f}, mIoU: {:.2f}, mAP: {:.2f}".format(
            iteration, metrics["PQ"], metrics["mIoU"], metrics["mAP"]))
        logger.info("[EVAL] The model with the best validation PQ ({:.4f}) was saved at iter "
                    "{}.".format(best["PQ"], best["iteration"]))
        if self.writer is not None:
            for key in EVAL_SCALARS:
                if key in metrics:
                    self.writer.add_scalar("Evaluate/" + key, float(metrics[key]), iteration)
        if self.metrics is not None:
            self.metrics.append("eval", iteration, metrics)

    def log_images(self, iteration, images):
        """VisualDL images: ``{tag: [H, W, 3] uint8 RGB}`` at step ``iteration``."""
        if self.writer is not None:
            for tag, image in images.items():
                self.writer.add_image(tag, image, iteration)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def environment_info(device, world_size, seed):
    """Versions and run facts worth keeping next to the checkpoints."""
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "paddle": paddle.__version__,
        "paddle_commit": getattr(paddle.version, "commit", "unknown"),
        "numpy": np.__version__,
        "device": device,
        "world_size": int(world_size),
        "seed": seed,
        "cuda_compiled": bool(paddle.is_compiled_with_cuda()),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "argv": sys.argv,
    }
    info.update(accelerator_info())
    for module in ("paddleseg", "visualdl", "cv2"):
        try:
            info[module] = __import__(module).__version__
        except Exception:  # a missing optional package is simply not recorded
            pass
    try:
        import paddleseg_panoptic
        info["paddleseg_panoptic"] = paddleseg_panoptic.__version__
    except Exception:
        pass
    return info


def write_run_records(save_dir, config_text, env):
    """Write the resolved config (``config.yml``) and ``environment.json`` to ``save_dir``."""
    os.makedirs(save_dir, exist_ok=True)
    with open(os.path.join(save_dir, "config.yml"), "w", encoding="utf-8") as f:
        f.write(config_text)
    with open(os.path.join(save_dir, "environment.json"), "w", encoding="utf-8") as f:
        json.dump(env, f, indent=2, sort_keys=True, default=str)
