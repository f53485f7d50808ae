"""Planning a training run by time: measure the first iterations, then fit a time budget.

A probe trains a few iterations of the real config (same batch, crop, model, data loader and
device) in a temporary folder; the first iteration (start-up, allocations) is left out of the
mean. The plan holds while the machine's load stays as it was during the probe.
"""
import resource
import shutil
import tempfile
import time

from paddleseg_panoptic.core.train_launcher import run_training

__all__ = ["probe_training", "plan_iters"]


def probe_training(config, probe_iters=6, batch_size=None, opts=None, num_workers=0,
                   device="auto"):
    """Trains ``probe_iters`` iterations of ``config`` in a temporary folder (deleted).

    Returns:
        dict: ``seconds_per_iter`` (mean wall time of an iteration, data included, the first
        left out), ``iterations`` (how many were timed), ``wall_s`` and ``cpu_s`` (the whole
        probe, start-up included; CPU time of this process).
    """
    if probe_iters < 2:
        raise ValueError("probe_iters must be at least 2 (the first one is left out), got "
                         "{}".format(probe_iters))
    work = tempfile.mkdtemp(prefix="train_probe_")
    cpu_start = _cpu_seconds()
    start = time.time()
    try:
        summary = run_training(
            config, iters=probe_iters, batch_size=batch_size, opts=opts, save_dir=work,
            save_interval=10 ** 9, keep_checkpoint_max=1, num_workers=num_workers,
            log_iters=10 ** 9, device=device, seed=0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timing = summary["timing"]
    return {"seconds_per_iter": timing["batch_cost"], "iterations": timing["iterations"],
            "wall_s": time.time() - start, "cpu_s": _cpu_seconds() - cpu_start}


def plan_iters(seconds_per_iter, wanted, budget_minutes=None):
    """Iterations to train: ``wanted``, or fewer when ``budget_minutes`` cannot hold them
    (at least 1)."""
    if budget_minutes is None:
        return wanted
    return max(1, min(wanted, int(budget_minutes * 60 / seconds_per_iter)))


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
