"""The training loop (docs/training.md), data-parallel over all launched processes.

Order of the pieces at each iteration ``i`` (1-based)::

    fetch batch -> reseed dropout -> all ranks agree every sample was read -> forward
    (auto_cast with --precision) -> losses -> all ranks agree the loss is finite -> backward ->
    optimizer step (loss scaling with fp16) -> all ranks agree the weights are finite ->
    scheduler step -> clear gradients -> EMA update (--use_ema) -> log (every log_iters)
    -> checkpoint (every save_interval and at the end, rank 0) -> evaluate (with do_eval,
       once past half of the iterations; the EMA weights with --use_ema) -> best_model by PQ

Everything printed goes to ``save_dir/train.log`` too, the log steps and evaluations to
``save_dir/metrics.jsonl`` (``core/train_records.py``).

The checkpoint comes before the evaluation so that a crash while evaluating still leaves it.
The checks and what a stop looks like live in ``core/train_guard.py``.
"""
import hashlib
import os
import signal
import time

import numpy as np
import paddle
import paddle.distributed as dist
from paddleseg.utils import logger

from paddleseg_panoptic.core import train_guard as guard
from paddleseg_panoptic.core.train_amp import MixedPrecision
from paddleseg_panoptic.core.train_data import build_train_loader, seed_step
from paddleseg_panoptic.core.train_ema import EMA_FILE, ModelEMA
from paddleseg_panoptic.core.train_guard import TrainingError, TrainingInterrupted
from paddleseg_panoptic.core.train_logging import TrainLogger
from paddleseg_panoptic.core.train_plan import TimeBudget, set_schedule_length
from paddleseg_panoptic.core.train_records import METRICS_FILE, MetricsLog, logged_to_save_dir
from paddleseg_panoptic.core.train_visuals import validation_panels
from paddleseg_panoptic.losses import build_panoptic_loss
from paddleseg_panoptic.postprocess.defaults import NMS_KERNEL, THRESHOLD, TOP_K
from paddleseg_panoptic.utils import checkpoint as ckpt
from paddleseg_panoptic.utils.distributed import (broadcast_buffers, get_rank, get_world_size,
                                                  unwrap_model)

__all__ = ["TrainingError", "TrainingInterrupted", "train", "parameter_digest",
           "summarize_metrics"]

_BATCH_KEYS = ("semantic", "semantic_weights", "center", "center_weights", "offset",
               "offset_weights")


def parameter_digest(model):
    """SHA-256 (hex) of the trainable parameters' bytes in ``state_dict`` order."""
    digest = hashlib.sha256()
    for name, param in unwrap_model(model).named_parameters():
        if param.trainable:
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(param.numpy()).tobytes())
    return digest.hexdigest()


def _gather_digests(model):
    """Every rank's :func:`parameter_digest`, in rank order."""
    local = parameter_digest(model)
    world = get_world_size()
    if world <= 1:
        return [local]
    words = np.frombuffer(bytes.fromhex(local), dtype=np.int64).copy()
    gathered = []
    dist.all_gather(gathered, paddle.to_tensor(words))
    return [t.numpy().astype(np.int64).tobytes().hex() for t in gathered]


def _prepare_model(model, world):
    model.train()
    if world > 1:
        if paddle.is_compiled_with_cuda() and "gpu" in paddle.get_device():
            # Parameters are kept by the conversion, so an optimizer built before stays valid.
            model = paddle.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return model, paddle.DataParallel(model)
    return model, model


def _evaluate(model, val_dataset, post, num_workers):
    # Imported here: the evaluation stack is only needed with do_eval.
    from paddleseg_panoptic.core.evaluate import evaluate
    results = evaluate(model, val_dataset, threshold=post["threshold"],
                       nms_kernel=post["nms_kernel"], top_k=post["top_k"],
                       num_workers=num_workers)
    return summarize_metrics(results)


def summarize_metrics(results):
    """The numbers training tracks, out of :func:`paddleseg_panoptic.core.evaluate.evaluate`'s
    result: ``PQ``, ``SQ``, ``RQ`` (All classes), ``PQ_things`` ... ``RQ_stuff`` (fractions),
    ``mIoU``, ``mAP``, ``mAP50`` (percent) and ``seconds`` (duration, when given)."""
    out = {}
    for group, suffix in (("All", ""), ("Things", "_things"), ("Stuff", "_stuff")):
        for key in ("pq", "sq", "rq"):
            out[key.upper() + suffix] = float(results["pan_seg"][group][key])
    ins = results["ins_seg"]
    out.update(mIoU=float(results["sem_seg"]["mIoU"]), mAP=float(ins["mAP"]))
    if "mAP50" in ins:
        out["mAP50"] = float(ins["mAP50"])
    if "seconds" in results:
        out["seconds"] = round(float(results["seconds"]), 3)
    return out


def _checkpoint_state(iteration, iters_per_epoch, seed, scheduler, best, world, batch_size):
    return {
        "iteration": iteration,
        "epoch": iteration // iters_per_epoch,
        "batches_done_in_epoch": iteration % iters_per_epoch,
        "seed": seed,
        "world_size": world,
        "batch_size": batch_size,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "best": best,
    }


@logged_to_save_dir
def train(model, train_dataset, optimizer, loss, *, iters, batch_size, seed, val_dataset=None,
          save_dir="./output", save_interval=1000, keep_checkpoint_max=5, resume_model=None,
          num_workers=0, do_eval=False, log_iters=10, use_vdl=False, threshold=THRESHOLD,
          nms_kernel=NMS_KERNEL, top_k=TOP_K, precision="fp32", amp_level="O1",
          use_ema=False, time_budget=None):
    """Train ``model`` on ``train_dataset``; call on every launched process.

    Args:
        model (paddle.nn.Layer): the plain model (wrapped in ``paddle.DataParallel`` here when
            more than one process runs; the parallel environment must be initialised).
        train_dataset (paddle.io.Dataset): yields the training sample dict of design.md.
        optimizer (paddle.optimizer.Optimizer): over ``model``'s parameters; its learning
            rate must be an ``LRScheduler`` (stepped once per iteration) or a float.
        loss (dict|PanopticLoss): ``{'types': [...], 'coef': [...]}`` or a built loss.
        iters (int): total iterations (also when resuming).
        batch_size (int): per process.
        seed (int): drives data order, augmentation and dropout (see ``core/train_data.py``).
        val_dataset (paddle.io.Dataset, optional): needed with ``do_eval``.
        save_dir (str): checkpoints, ``train.log``, ``metrics.jsonl``, VisualDL files.
        save_interval (int): iterations between checkpoints (one is also written at the end).
        keep_checkpoint_max (int): newest ``iter_N`` directories kept; <= 0 keeps all.
        resume_model (str, optional): checkpoint directory, or ``'auto'`` for the newest
            complete checkpoint in ``save_dir`` (fresh start when there is none).
        num_workers (int): data loader worker processes.
        do_eval (bool): evaluate at each checkpoint past half of ``iters``; keep best_model.
        log_iters (int): iterations per log line.
        use_vdl (bool): write VisualDL scalars (and with ``do_eval`` pictures of a few
            validation images) to ``save_dir``.
        threshold, nms_kernel, top_k: post-processing for the evaluation.
        precision (str): ``fp32``, ``fp16`` or ``bf16`` (see ``core/train_amp.py``).
        amp_level (str): ``O1`` or ``O2``.
        use_ema (bool): keep an average of the weights (``core/train_ema.py``); it is what
            the evaluation sees and ``best_model/`` holds.
        time_budget (float, optional): minutes of training: the run times its iterations,
            trains as many of ``iters`` as fit (re-planned every 10 iterations) and ends the
            learning-rate schedule there (``core/train_plan.py``). The last checkpoint and
            its evaluation come after the budget.

    Returns:
        dict: ``{'iteration', 'last_checkpoint', 'best', 'param_digests' (one SHA-256 of the
        trainable parameters per rank), 'last_losses', 'timing'}``; ``timing`` holds the mean
        ``batch_cost`` and ``reader_cost`` (seconds) over the run's iterations but its first.

    Raises:
        TrainingError: an epoch has no full global batch, a sample cannot be read, the loss or
            the weights became non-finite, a checkpoint cannot be written, the resume
            checkpoint is unusable, or the device cannot run ``precision``.
        TrainingInterrupted: SIGINT (KeyboardInterrupt), or a signal made to raise
            :class:`~paddleseg_panoptic.core.train_guard.Interrupted`.
    """
    if iters <= 0 or save_interval <= 0 or log_iters <= 0:
        raise ValueError("iters, save_interval and log_iters must be positive, got {}, {}, "
                         "{}".format(iters, save_interval, log_iters))
    if do_eval and val_dataset is None:
        raise ValueError("do_eval needs a val_dataset (the config has no `val_dataset`)")
    rank, world = get_rank(), get_world_size()
    is_main = rank == 0
    loss_fn = build_panoptic_loss(loss)
    try:
        amp = MixedPrecision(precision, amp_level)
    except ValueError as e:
        raise TrainingError(str(e)) from None
    model, optimizer = amp.decorate(model, optimizer)
    scheduler = optimizer._learning_rate
    if not isinstance(scheduler, paddle.optimizer.lr.LRScheduler):
        scheduler = None

    try:
        loader, sampler = build_train_loader(train_dataset, batch_size, seed,
                                             num_workers=num_workers)
    except ValueError as e:
        raise TrainingError(str(e)) from None
    iters_per_epoch = len(sampler)
    if is_main:
        ckpt.remove_leftovers(save_dir)

    # Resume before wrapping: the checkpoint holds the plain model's names.
    start_iter, best, last_ckpt = 0, None, None
    resume_dir = ckpt.resolve_resume_dir(resume_model, save_dir)
    if resume_dir is not None:
        try:
            state = ckpt.load_checkpoint(resume_dir, model, optimizer)
        except ValueError as e:
            raise TrainingError("--resume_model: {}".format(e)) from None
        start_iter, last_ckpt = int(state["iteration"]), resume_dir
        best = state.get("best") or best
        amp.set_state_dict(state.get("grad_scaler"))
        if not state.get("optimizer_restored", True):
            logger.warning("{}/{} does not name this model's parameters (written by another "
                           "program?): weights, schedule and iteration restored, the optimizer "
                           "moments start afresh".format(resume_dir, ckpt.OPTIMIZER_FILE))
        if state.get("legacy"):
            logger.warning("{} has no {}: the data order restarts from epoch 0".format(
                resume_dir, ckpt.STATE_FILE))
        else:
            saved = (state.get("seed"), state.get("world_size"), state.get("batch_size"))
            if saved != (seed, world, batch_size):
                logger.warning(
                    "Resuming with (seed, world size, batch size) = {} but the checkpoint was "
                    "written with {}: training continues, but not as the first run would "
                    "have.".format((seed, world, batch_size), saved))
        logger.info("Resumed from {} at iteration {}".format(resume_dir, start_iter))
        if start_iter >= iters:
            logger.info("Nothing to do: the checkpoint is at iteration {} >= iters {}".format(
                start_iter, iters))
    sampler.set_position(start_iter // iters_per_epoch, start_iter % iters_per_epoch)
    ema = _start_ema(model, resume_dir) if use_ema else None

    plain_model, ddp_model = _prepare_model(model, world)
    metrics = None
    if is_main:
        metrics = MetricsLog(save_dir, start_iter, history=os.path.join(
            os.path.dirname(os.path.normpath(resume_dir)), METRICS_FILE) if resume_dir else None)
    train_logger = TrainLogger(iters, log_iters, batch_size * world,
                               vdl_dir=save_dir if use_vdl else None, enabled=is_main,
                               metrics=metrics)
    post = {"threshold": threshold, "nms_kernel": nms_kernel, "top_k": top_k}
    iteration, last_losses = start_iter, None
    # Whole-run timing, leaving out the first iteration (worker start-up, allocations).
    timing = {"iterations": 0, "batch_cost": 0.0, "reader_cost": 0.0}
    max_iters = iters
    budget = TimeBudget(time_budget, iters, start_iter) if time_budget is not None else None
    try:
        while iteration < iters:
            epoch = sampler.epoch + 1  # 1-based for the log, as the reference's
            tic = time.perf_counter()
            for batch in loader:
                reader_cost = time.perf_counter() - tic
                iteration += 1
                seed_step(seed, iteration, rank)
                last_losses, lr = _train_step(ddp_model, loss_fn, optimizer, scheduler, batch,
                                              iteration, last_ckpt, amp)
                if ema is not None:
                    ema.update(plain_model, iteration)
                batch_cost = time.perf_counter() - tic
                train_logger.update(last_losses, reader_cost, batch_cost)
                if budget is not None and budget.update(iteration):
                    iters = train_logger.iters = _replan(budget, iters, scheduler, is_main)
                if iteration > start_iter + 1:
                    timing["iterations"] += 1
                    timing["batch_cost"] += batch_cost
                    timing["reader_cost"] += reader_cost
                train_logger.maybe_log(iteration, epoch, lr)

                if iteration % save_interval == 0 or iteration == iters:
                    state = _checkpoint_state(iteration, iters_per_epoch, seed, scheduler, best,
                                              world, batch_size)
                    if amp.scaler is not None:
                        state["grad_scaler"] = amp.state_dict()
                    last_ckpt = _save(plain_model, optimizer, save_dir, keep_checkpoint_max,
                                      state, is_main, last_ckpt, ema)
                    if do_eval and 2 * iteration > iters:
                        kept = ema.model if ema is not None else plain_model
                        best = _evaluate_and_keep_best(kept, amp.for_inference(kept),
                                                       val_dataset, post, num_workers,
                                                       iteration, best, save_dir, last_ckpt,
                                                       train_logger)
                if iteration >= iters:
                    break
                tic = time.perf_counter()
    except KeyboardInterrupt as e:
        raise TrainingInterrupted(iteration, last_ckpt,
                                  getattr(e, "signum", signal.SIGINT)) from None
    finally:
        train_logger.close()
    if budget is not None and iteration < max_iters and is_main:
        logger.info("Stopped at iteration {} of {}: the time budget of {:g} min is "
                    "spent".format(iteration, max_iters, time_budget))

    digests = _gather_digests(plain_model)
    if is_main and len(set(digests)) != 1:
        logger.warning("Trainable parameters differ between processes: {}".format(digests))
    if timing["iterations"]:
        timing["batch_cost"] /= timing["iterations"]
        timing["reader_cost"] /= timing["iterations"]
    return {"iteration": iteration, "last_checkpoint": last_ckpt, "best": best,
            "param_digests": digests, "last_losses": last_losses, "timing": timing}


def _replan(budget, iters, scheduler, is_main):
    """The new length of a run under a time budget; its learning-rate schedule ends there.
    The first plan is logged; later ones show in the log lines' ``iter: N/planned``."""
    if scheduler is not None and budget.planned != iters:
        set_schedule_length(scheduler, budget.planned)
    if budget.plans == 1 and is_main:
        logger.info("Time budget {:g} min: {:.2f} s per iteration, planning {} of {} iterations "
                    "(about {:.1f} min; re-planned every {} iterations)".format(
                        budget.minutes, budget.seconds_per_iter, budget.planned,
                        budget.max_iters, budget.planned * budget.seconds_per_iter / 60,
                        budget.every))
    return budget.planned


def _start_ema(model, resume_dir):
    """The weight average, continued from the checkpoint's when it has one."""
    ema = ModelEMA(model)
    path = os.path.join(resume_dir, EMA_FILE) if resume_dir else None
    if path and os.path.isfile(path):
        try:
            ema.set_state_dict(paddle.load(path), path)
        except ValueError as e:
            raise TrainingError("--resume_model: {}".format(e)) from None
    elif path:
        logger.warning("{} has no {}: the weight average starts again from the resumed "
                       "weights".format(resume_dir, EMA_FILE))
    return ema


def _train_step(model, loss_fn, optimizer, scheduler, batch, iteration, last_ckpt, amp):
    """forward, losses, backward, optimizer step, scheduler step, clear gradients; the
    checks of ``core/train_guard.py`` around them (all ranks take the same branch, or the others
    would wait forever in a collective).

    Returns:
        tuple: (dict of Python float losses, learning rate used by this step).
    """
    guard.check_batch(batch, iteration)
    outputs = amp.forward(model, batch["image"])
    losses = loss_fn(outputs, {k: batch[k] for k in _BATCH_KEYS})
    values = {k: float(v) for k, v in losses.items()}
    guard.check_losses(values, iteration, last_ckpt)
    amp.backward_and_step(losses["total"], optimizer)
    guard.check_state(unwrap_model(model), iteration, last_ckpt)
    lr = optimizer.get_lr()
    if scheduler is not None:
        scheduler.step()
    optimizer.clear_grad()
    return values, lr


def _evaluate_and_keep_best(model, runnable, val_dataset, post, num_workers, iteration, best,
                            save_dir, last_ckpt, train_logger):
    """Evaluate ``runnable`` (``model`` or how it runs in mixed precision), rewrite
    ``best_model/`` with ``model`` on a new best PQ, log; returns the best so far."""
    metrics = _evaluate(runnable, val_dataset, post, num_workers=num_workers)
    if train_logger.writer is not None:
        train_logger.log_images(iteration, validation_panels(runnable, val_dataset, post))
    if best is None or metrics["PQ"] > best["PQ"]:
        best = {k: v for k, v in metrics.items() if k != "seconds"}
        best["iteration"] = iteration
        error = None
        if get_rank() == 0:
            try:
                ckpt.save_best_model(save_dir, model, best)
                # The checkpoint just written must carry the new best for a later resume.
                ckpt.update_state(last_ckpt, {"best": best})
            except (OSError, ValueError) as e:
                error = "{}; the checkpoint {} is complete".format(e, last_ckpt)
        guard.check_save(error, os.path.join(save_dir, ckpt.BEST_DIR))
    train_logger.log_evaluation(iteration, metrics, best)
    return best


def _save(model, optimizer, save_dir, keep_checkpoint_max, state, is_main, previous,
          ema=None):
    """Broadcast rank 0's buffers, write the checkpoint on rank 0, wait for it everywhere.

    A checkpoint that cannot be written (disk full, ...) stops the run on every process; the
    previous one stays as it was.
    """
    broadcast_buffers(model)
    extra = None
    if ema is not None:
        broadcast_buffers(ema.model)
        extra = {EMA_FILE: ema.state_dict()}
    path = os.path.join(save_dir, "iter_{}".format(state["iteration"]))
    error = None
    if is_main:
        try:
            path = ckpt.save_checkpoint(save_dir, model, optimizer, state, keep_checkpoint_max,
                                        extra_files=extra)
            logger.info("Saved checkpoint {}".format(path))
        except (OSError, ValueError) as e:
            error = "{}; {}".format(e, "the previous checkpoint {} is unchanged".format(
                previous) if previous else "no checkpoint was written before")
    guard.check_save(error, path)
    return path
