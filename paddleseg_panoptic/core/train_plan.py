"""Planning a training run by time.

Two ways to fit training into a time budget:

- :class:`TimeBudget`, used by ``tools/train.py --time_budget MIN``: the run itself times its
  iterations and re-plans its length as it goes, ending the learning-rate schedule at the
  planned iteration. It follows the machine's speed for the whole run.
- :func:`probe_training` (``tools/time_training.py``): a probe trains a few iterations of the
  real config (same batch, crop, model, data loader and device) in a temporary folder, the
  first one (start-up, allocations) left out of the mean, and :func:`plan_iters` fits the
  budget. The plan holds while the machine's load stays as it was during the probe.
"""
import resource
import shutil
import tempfile
import time

import paddle
import paddle.distributed as dist

from paddleseg_panoptic.utils.distributed import get_world_size

__all__ = ["TimeBudget", "set_schedule_length", "probe_training", "plan_iters"]


class TimeBudget:
    """Fits training into ``minutes``: re-plans the run's iteration count as it goes.

    :meth:`update` is called after every iteration; :attr:`planned` is the plan. The first
    iteration (start-up) is not timed; after it, every ``every`` iterations the mean time of
    an iteration so far (checkpoints and evaluations included) says how many more fit in the
    time left. The plan never exceeds ``max_iters`` and never goes below the iterations
    already done. With several processes the first one's plan is broadcast, so that all stop
    at the same iteration.

    Args:
        minutes (float): the budget, counted from the creation of this object.
        max_iters (int): the most iterations to plan (the run's ``iters``).
        start_iter (int): iterations already done (a resumed run).
        every (int): iterations between two plans.
        clock (callable): seconds, monotonic.
    """

    def __init__(self, minutes, max_iters, start_iter=0, every=10, clock=time.perf_counter):
        if not minutes > 0:
            raise ValueError("the time budget must be positive, got {} min".format(minutes))
        self.minutes = float(minutes)
        self.max_iters = int(max_iters)
        self.start_iter = int(start_iter)
        self.every = max(1, int(every))
        self.planned = self.max_iters
        self.plans = 0
        self.seconds_per_iter = None
        self._clock = clock
        self._start = clock()
        self._first_done = None

    def update(self, iteration):
        """Record that ``iteration`` is done; returns True when this made a new plan (then
        :attr:`planned`, the iterations to train in all, is the same on every process)."""
        now = self._clock()
        timed = iteration - self.start_iter - 1
        if timed == 0:
            self._first_done = now
        if timed <= 0 or timed % self.every:
            return False
        self.seconds_per_iter = (now - self._first_done) / timed
        left = 60.0 * self.minutes - (now - self._start)
        more = int(left / self.seconds_per_iter) if left > 0 else 0
        planned = min(self.max_iters, iteration + more)
        if get_world_size() > 1:
            tensor = paddle.to_tensor([planned], dtype="int64")
            dist.broadcast(tensor, src=0)
            planned = int(tensor[0])
        self.planned = planned
        self.plans += 1
        return True


def set_schedule_length(scheduler, iters):
    """Makes the polynomial decay of ``scheduler`` (as built by ``Config.lr_scheduler``:
    ``PolynomialDecay``, possibly inside ``LinearWarmup``) end at iteration ``iters``, as if
    built for ``iters``; the iterations already trained keep the rates they had."""
    warmup, decay = 0, scheduler
    if isinstance(scheduler, paddle.optimizer.lr.LinearWarmup):
        warmup, decay = scheduler.warmup_steps, scheduler.learning_rate
    if isinstance(decay, paddle.optimizer.lr.PolynomialDecay):
        decay.decay_steps = max(1, int(iters) - warmup)
        scheduler.last_lr = scheduler.get_lr()  # the rate of the next iteration, too


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
    from paddleseg_panoptic.core.train_launcher import run_training  # (imports train.py)

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
