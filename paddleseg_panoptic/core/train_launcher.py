"""From command-line values to a running :func:`paddleseg_panoptic.core.train.train`.

Order matters for reproducibility: device and parallel environment first, then the seed (the
same on every process), then the model is built under that seed, then the records of the run
are written and training starts.
"""
import json
import os

import numpy as np
import paddle
import paddle.distributed as dist
from paddleseg.utils import logger

from paddleseg_panoptic.core.train import TrainingError, train
from paddleseg_panoptic.core.train_amp import check_precision
from paddleseg_panoptic.core.train_data import check_dataset_size, seed_everything
from paddleseg_panoptic.core.train_logging import environment_info, write_run_records
from paddleseg_panoptic.core.train_records import logged_to_save_dir
from paddleseg_panoptic.cvlibs.config import Config
from paddleseg_panoptic.datasets.facts import check_same_classes
from paddleseg_panoptic.postprocess.defaults import NMS_KERNEL, THRESHOLD, TOP_K
from paddleseg_panoptic.utils import checkpoint as ckpt
from paddleseg_panoptic.utils.device import set_device
from paddleseg_panoptic.utils.distributed import get_rank, get_world_size, init_distributed

__all__ = ["resolve_seed", "run_training"]

SUMMARY_FILE = "train_summary.json"


def resolve_seed(seed, resume_dir):
    """The run's seed: ``seed`` if given, else the resumed checkpoint's, else a fresh random
    one; identical on every process (rank 0's is broadcast).

    Returns:
        int: in [0, 2**31).
    """
    if seed is None and resume_dir is not None:
        try:
            seed = (ckpt.read_state(resume_dir) or {}).get("seed")
        except ValueError as e:
            raise TrainingError("--resume_model: {}".format(e)) from None
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 31))
    seed = int(seed)
    if get_world_size() > 1:
        tensor = paddle.to_tensor([seed], dtype="int64")
        dist.broadcast(tensor, src=0)
        seed = int(tensor[0])
    return seed


@logged_to_save_dir
def run_training(config, *, iters=None, batch_size=None, learning_rate=None, opts=None,
                 save_dir="./output", save_interval=1000, keep_checkpoint_max=5,
                 resume_model=None, num_workers=0, do_eval=False, log_iters=10, use_vdl=False,
                 threshold=THRESHOLD, nms_kernel=NMS_KERNEL, top_k=TOP_K, device="auto",
                 seed=None, precision="fp32", amp_level="O1", use_ema=False, time_budget=None):
    """Load ``config``, build everything and train (every launched process calls this).

    Args:
        config (str): path of the YAML config.
        iters, batch_size, learning_rate: override the config's values when not None.
        opts (list[str]): ``key.sub=value`` config overrides.
        device (str): ``'auto'``, ``'cpu'`` or ``'gpu'``.
        seed (int, optional): see :func:`resolve_seed`.
        Other arguments: as :func:`paddleseg_panoptic.core.train.train`.

    Returns:
        dict: the summary of :func:`~paddleseg_panoptic.core.train.train`, also written by
        rank 0 to ``save_dir/train_summary.json``.
    """
    # 'auto' is the GPU when Paddle has CUDA and sees one; each process takes its own card.
    device = set_device(device)
    world = init_distributed()
    try:  # before anything is built
        check_precision(precision, amp_level, device)
    except ValueError as e:
        raise TrainingError(str(e)) from None
    cfg = Config(config, iters=iters, batch_size=batch_size, learning_rate=learning_rate,
                 opts=opts)
    resume_dir = ckpt.resolve_resume_dir(resume_model, save_dir)
    if resume_model == "auto" and resume_dir is None:
        logger.info("--resume_model auto: no complete checkpoint in {}, starting from "
                    "scratch".format(save_dir))
    seed = resolve_seed(seed, resume_dir)
    seed_everything(seed)
    try:
        train_dataset = cfg.train_dataset
        val_dataset = cfg.val_dataset if do_eval else None
    except (ValueError, OSError) as e:  # a dataset's own errors name the file
        raise TrainingError(str(e)) from None
    if train_dataset is None:
        raise TrainingError("{} has no train_dataset".format(cfg.path))
    try:  # before building the model: fail fast, before any pretrained download
        check_dataset_size(len(train_dataset), cfg.batch_size, world)
        if val_dataset is not None:
            check_same_classes(train_dataset, val_dataset)
    except ValueError as e:
        raise TrainingError(str(e)) from None
    model = cfg.model
    optimizer = cfg.build_optimizer(model)
    if get_rank() == 0:
        write_run_records(save_dir, str(cfg), environment_info(device, world, seed))
        budget = "" if time_budget is None else " at most (as many as fit in {:g} min)".format(
            time_budget)
        logger.info("Training {} for {} iterations{}, batch size {} x {} process(es), seed {}, "
                    "device {}, precision {}{}{}; output in {}".format(
                        cfg.path, cfg.iters, budget, cfg.batch_size, world, seed, device,
                        precision,
                        "" if precision == "fp32" else " " + amp_level,
                        ", EMA of the weights" if use_ema else "", save_dir))
    summary = train(
        model, train_dataset, optimizer, cfg.loss, iters=cfg.iters,
        batch_size=cfg.batch_size, seed=seed, val_dataset=val_dataset,
        save_dir=save_dir, save_interval=save_interval, keep_checkpoint_max=keep_checkpoint_max,
        resume_model=resume_dir, num_workers=num_workers, do_eval=do_eval, log_iters=log_iters,
        use_vdl=use_vdl, threshold=threshold, nms_kernel=nms_kernel, top_k=top_k,
        precision=precision, amp_level=amp_level, use_ema=use_ema, time_budget=time_budget)
    if get_rank() == 0:
        with open(os.path.join(save_dir, SUMMARY_FILE), "w", encoding="utf-8") as f:
            json.dump(dict(summary, seed=seed, world_size=world), f, indent=2, sort_keys=True)
        best = summary["best"]
        logger.info("Training finished at iteration {}; last checkpoint {}{}".format(
            summary["iteration"], summary["last_checkpoint"],
            "; best PQ {:.4f} at iteration {} in {}".format(
                best["PQ"], best["iteration"], os.path.join(save_dir, "best_model"))
            if best else ""))
    return summary
