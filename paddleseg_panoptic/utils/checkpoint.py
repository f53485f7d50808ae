"""Training checkpoints: atomic save, rotation, ``best_model/`` and resume.

Layout under ``save_dir`` (the reference's names, so its tools and released files fit)::

    iter_N/model.pdparams       model state_dict
    iter_N/model.pdopt          optimizer state_dict (holds the LR schedule as 'LR_Scheduler')
    iter_N/train_state.json     iteration, epoch position, seed, scheduler, best metric so far
    iter_N/ema_model.pdparams   with --use_ema: the averaged weights (an extra file)
    best_model/model.pdparams   weights of the best evaluation so far
    best_model/best_model.json  its iteration and metrics

Every directory is first written under a hidden temporary name inside ``save_dir`` and then
renamed into place, so a process killed while saving never leaves a half-written ``iter_N``:
a checkpoint directory either exists complete or not at all. ``train_state.json`` is written
last, so its presence marks a checkpoint written by this package as complete. Weights holding
NaN or infinity are never written. Temporary folders left by a killed process are removed by
:func:`remove_leftovers` when training starts again.
"""
import json
import os
import re
import shutil
import uuid

import paddle
from paddleseg.utils import logger

from paddleseg_panoptic.utils.weights import compare_state_dict, describe_nonfinite, nonfinite_keys

__all__ = ["MODEL_FILE", "OPTIMIZER_FILE", "STATE_FILE", "save_checkpoint", "save_best_model",
           "update_state", "list_checkpoints", "latest_checkpoint", "checkpoint_problems",
           "resolve_resume_dir", "read_state", "load_checkpoint", "remove_leftovers"]

MODEL_FILE = "model.pdparams"
OPTIMIZER_FILE = "model.pdopt"
STATE_FILE = "train_state.json"
BEST_DIR = "best_model"
BEST_INFO_FILE = "best_model.json"
_ITER_DIR = re.compile(r"^iter_(\d+)$")
_LEFTOVER = re.compile(r"^\.tmp-|\.old-[0-9a-f]{8}$")


def _write_json(path, data):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def _atomic_publish(tmp_dir, final_dir):
    """Move the finished ``tmp_dir`` to ``final_dir``, replacing an older one of that name."""
    if os.path.isdir(final_dir):
        # A directory cannot be renamed over a non-empty one: move the old one aside first,
        # so ``final_dir`` is only ever missing for the instant between two renames.
        trash = "{}.old-{}".format(final_dir, uuid.uuid4().hex[:8])
        os.replace(final_dir, trash)
        os.replace(tmp_dir, final_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp_dir, final_dir)


def _refuse_nonfinite(model, what):
    state = model.state_dict()
    bad = nonfinite_keys(state)
    if bad:
        raise ValueError("refusing to write {}: {}".format(
            what, describe_nonfinite(bad, len(state), "the model")))


def remove_leftovers(save_dir):
    """Remove the temporary folders a killed process left in ``save_dir`` (one log line each).

    Returns:
        list[str]: the removed paths.
    """
    removed = []
    if not os.path.isdir(save_dir):
        return removed
    for name in sorted(os.listdir(save_dir)):
        path = os.path.join(save_dir, name)
        if _LEFTOVER.search(name) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            logger.info("Removed {}, left by an interrupted save".format(path))
            removed.append(path)
    return removed


def _tmp_dir(save_dir, name):
    path = os.path.join(save_dir, ".tmp-{}-{}".format(name, uuid.uuid4().hex[:8]))
    os.makedirs(path)
    return path


def list_checkpoints(save_dir):
    """``[(iteration, path)]`` of the ``iter_N`` directories in ``save_dir``, oldest first."""
    found = []
    if not os.path.isdir(save_dir):
        return found
    for name in os.listdir(save_dir):
        match = _ITER_DIR.match(name)
        path = os.path.join(save_dir, name)
        if match and os.path.isdir(path):
            found.append((int(match.group(1)), path))
    return sorted(found)


def _is_complete(path):
    return all(os.path.isfile(os.path.join(path, f)) for f in (MODEL_FILE, OPTIMIZER_FILE,
                                                               STATE_FILE))


def latest_checkpoint(save_dir):
    """Path of the newest complete checkpoint in ``save_dir``, or None."""
    for _, path in reversed(list_checkpoints(save_dir)):
        if _is_complete(path):
            return path
    return None


def _rotate(save_dir, keep_checkpoint_max):
    if keep_checkpoint_max is None or keep_checkpoint_max <= 0:
        return
    checkpoints = list_checkpoints(save_dir)
    for _, path in checkpoints[:max(0, len(checkpoints) - keep_checkpoint_max)]:
        shutil.rmtree(path, ignore_errors=True)


def save_checkpoint(save_dir, model, optimizer, state, keep_checkpoint_max=5, extra_files=None):
    """Atomically write ``save_dir/iter_N`` and drop the oldest beyond ``keep_checkpoint_max``.

    Args:
        save_dir (str): output directory (created if needed).
        model (paddle.nn.Layer): the plain model (not the DataParallel wrapper).
        optimizer (paddle.optimizer.Optimizer): its state includes the LR schedule.
        state (dict): JSON-serialisable training state; must hold ``iteration`` (int).
        keep_checkpoint_max (int): newest ``iter_*`` directories to keep; <= 0 keeps all.
        extra_files (dict, optional): file name -> object for ``paddle.save``, written into
            the directory before it is published.

    Returns:
        str: the checkpoint directory.

    Raises:
        ValueError: a parameter or buffer of ``model`` holds NaN or infinity (nothing written).
        OSError: the files cannot be written (nothing left behind; older checkpoints intact).
    """
    iteration = int(state["iteration"])
    _refuse_nonfinite(model, "checkpoint iter_{}".format(iteration))
    # The optimizer's state is keyed by Paddle's generated parameter names, which depend on
    # how many layers the process built before; keep them to translate on resume.
    state = dict(state, param_names={k: p.name for k, p in model.named_parameters()})
    os.makedirs(save_dir, exist_ok=True)
    tmp = _tmp_dir(save_dir, "iter_{}".format(iteration))
    try:
        paddle.save(model.state_dict(), os.path.join(tmp, MODEL_FILE))
        paddle.save(optimizer.state_dict(), os.path.join(tmp, OPTIMIZER_FILE))
        for name, obj in (extra_files or {}).items():
            paddle.save(obj, os.path.join(tmp, name))
        _write_json(os.path.join(tmp, STATE_FILE), state)
        final = os.path.join(save_dir, "iter_{}".format(iteration))
        _atomic_publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _rotate(save_dir, keep_checkpoint_max)
    return final


def read_state(ckpt_dir):
    """``ckpt_dir/train_state.json`` as a dict, or None when the checkpoint has none.

    Raises:
        ValueError: the file is not a JSON object with an ``iteration`` (naming it).
    """
    path = os.path.join(ckpt_dir, STATE_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("{} cannot be read ({}: {})".format(path, type(e).__name__, e)) \
            from None
    if not isinstance(state, dict) or not isinstance(state.get("iteration"), int):
        raise ValueError("{} has no integer `iteration`".format(path))
    return state


def _read_tensors(ckpt_dir, name):
    """``paddle.load`` of ``ckpt_dir/name``; ValueError naming the file when it cannot be."""
    path = os.path.join(ckpt_dir, name)
    if not os.path.isfile(path):
        raise ValueError("{} is missing".format(path))
    if os.path.getsize(path) == 0:
        raise ValueError("{} is empty (0 bytes)".format(path))
    try:
        data = paddle.load(path)
    except Exception as e:  # truncated or foreign files raise assorted errors
        raise ValueError("{} cannot be read, truncated or not a Paddle file ({}: {})".format(
            path, type(e).__name__, str(e)[:200])) from None
    if not isinstance(data, dict):
        raise ValueError("{} holds a {}, not a state dict".format(path, type(data).__name__))
    return data


def _check_finite_weights(ckpt_dir, weights):
    bad = nonfinite_keys(weights)
    if bad:
        raise ValueError(describe_nonfinite(bad, len(weights),
                                            os.path.join(ckpt_dir, MODEL_FILE)))


def checkpoint_problems(ckpt_dir):
    """Why ``ckpt_dir`` cannot be resumed from, reading every file: one message per bad file
    (unreadable, truncated, empty, missing, weights not finite); empty when it is usable."""
    problems = []
    try:
        read_state(ckpt_dir)
        if not os.path.isfile(os.path.join(ckpt_dir, STATE_FILE)):
            problems.append("{} is missing".format(os.path.join(ckpt_dir, STATE_FILE)))
    except ValueError as e:
        problems.append(str(e))
    for name in (MODEL_FILE, OPTIMIZER_FILE):
        try:
            data = _read_tensors(ckpt_dir, name)
            if name == MODEL_FILE:
                _check_finite_weights(ckpt_dir, data)
        except ValueError as e:
            problems.append(str(e))
    return problems


def update_state(ckpt_dir, changes):
    """Atomically merge ``changes`` into ``ckpt_dir/train_state.json``."""
    path = os.path.join(ckpt_dir, STATE_FILE)
    state = read_state(ckpt_dir)
    if state is None:
        raise ValueError("{} is missing".format(path))
    state.update(changes)
    tmp = "{}.tmp-{}".format(path, uuid.uuid4().hex[:8])
    _write_json(tmp, state)
    os.replace(tmp, path)


def save_best_model(save_dir, model, info):
    """Atomically (re)write ``save_dir/best_model`` with the model weights and ``info``.

    The reference saved into ``best_model/`` without creating it; here the directory is built
    under a temporary name and renamed into place.

    Args:
        save_dir (str): output directory.
        model (paddle.nn.Layer): the plain model.
        info (dict): JSON-serialisable, e.g. ``{'iteration': 1000, 'PQ': 0.41, ...}``.

    Returns:
        str: the ``best_model`` directory.

    Raises:
        ValueError: a parameter or buffer of ``model`` holds NaN or infinity (nothing written).
    """
    _refuse_nonfinite(model, BEST_DIR)
    os.makedirs(save_dir, exist_ok=True)
    tmp = _tmp_dir(save_dir, BEST_DIR)
    try:
        paddle.save(model.state_dict(), os.path.join(tmp, MODEL_FILE))
        _write_json(os.path.join(tmp, BEST_INFO_FILE), info)
        final = os.path.join(save_dir, BEST_DIR)
        _atomic_publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def resolve_resume_dir(resume_model, save_dir):
    """Turn ``--resume_model`` into a checkpoint directory.

    Args:
        resume_model (str|None): a checkpoint directory (or its ``model.pdparams``),
            ``'auto'`` or None. ``auto`` takes the newest checkpoint in ``save_dir`` whose
            files all read back completely, with finite weights, warning about each newer one
            skipped and naming its bad files; None when there is none (a fresh start).
        save_dir (str): where ``auto`` looks.

    Raises:
        FileNotFoundError: for a directory that does not exist or lacks ``model.pdparams`` /
            ``model.pdopt``.
    """
    if resume_model is None:
        return None
    if resume_model == "auto":
        for _, path in reversed(list_checkpoints(save_dir)):
            problems = checkpoint_problems(path)
            if not problems:
                return path
            logger.warning("--resume_model auto: skipping {}: {}".format(
                path, "; ".join(problems)))
        return None
    if os.path.isfile(resume_model) and resume_model.endswith(".pdparams"):
        folder = os.path.dirname(os.path.abspath(resume_model))
        logger.info("--resume_model {}: resuming from its folder {}".format(resume_model,
                                                                             folder))
        resume_model = folder
    if not os.path.isdir(resume_model):
        raise FileNotFoundError(
            "--resume_model: directory '{}' does not exist".format(resume_model))
    for name in (MODEL_FILE, OPTIMIZER_FILE):
        if not os.path.isfile(os.path.join(resume_model, name)):
            raise FileNotFoundError(
                "--resume_model: '{}' has no {}".format(resume_model, name))
    return resume_model


def _rename_optimizer_state(opt_state, saved_names, model):
    """Re-key ``opt_state`` from the saved generated parameter names to ``model``'s."""
    current = {k: p.name for k, p in model.named_parameters()}
    renames = {old: current[k] for k, old in saved_names.items()
               if k in current and current[k] != old}
    if not renames:
        return opt_state
    # Accumulators are named '<param name>_<accumulator>_<n>'; match the longest name first.
    olds = sorted(renames, key=len, reverse=True)
    out = {}
    for key, value in opt_state.items():
        new_key = key
        if isinstance(key, str):
            for old in olds:
                if key.startswith(old + "_"):
                    new_key = renames[old] + key[len(old):]
                    break
        out[new_key] = value
    return out


def _optimizer_state_fits(opt_state, model):
    """Whether every trainable parameter of ``model`` has accumulators in ``opt_state``."""
    keys = [k for k in opt_state if isinstance(k, str) and k not in ("LR_Scheduler",
                                                                       "master_weights")]
    if not keys:  # an optimizer without accumulators (plain SGD) fits anything
        return True
    prefixes = {p.name + "_" for p in model.parameters() if p.trainable}
    covered = set()
    for key in keys:
        # Accumulator keys are '<param name>_<accumulator>_<n>'; try each '_' split point.
        for cut in range(len(key)):
            if key[cut] == "_" and key[:cut + 1] in prefixes:
                covered.add(key[:cut + 1])
    return covered == prefixes


def load_checkpoint(ckpt_dir, model, optimizer):
    """Restore model and optimizer (with its LR schedule) from ``ckpt_dir``.

    Args:
        ckpt_dir (str): an ``iter_N`` directory.
        model (paddle.nn.Layer): the plain model.
        optimizer (paddle.optimizer.Optimizer)

    Returns:
        dict: the training state, with ``optimizer_restored`` False when the optimizer file
        names parameters this model does not have (then only the LR schedule is restored).
        Checkpoints written by the reference have no ``train_state.json``: the iteration is
        then taken from the directory name (``iter_N``) and the dict has ``'legacy': True``.

    Raises:
        ValueError: when a file cannot be read (naming it), the weights are not finite or do
            not fit the model, or the iteration cannot be determined.
    """
    state = read_state(ckpt_dir)
    weights = _read_tensors(ckpt_dir, MODEL_FILE)
    _check_finite_weights(ckpt_dir, weights)
    # Stricter than --model_path: a checkpoint of this very run holds exactly its tensors.
    fit = compare_state_dict(model, weights, ckpt_dir)
    if fit.missing or fit.unexpected or fit.mismatched:
        raise ValueError("Checkpoint {} does not fit the model: {} missing keys (e.g. {}), {} "
                         "unexpected keys (e.g. {}), {} keys with another shape (e.g. {})".format(
                             ckpt_dir, len(fit.missing), fit.missing[:3], len(fit.unexpected),
                             fit.unexpected[:3], len(fit.mismatched),
                             [k for k, _, _ in fit.mismatched[:3]]))
    if state is None:
        match = _ITER_DIR.match(os.path.basename(os.path.normpath(ckpt_dir)))
        if not match:
            raise ValueError(
                "Cannot tell the iteration of checkpoint '{}': it has no {} and its name is not "
                "iter_N".format(ckpt_dir, STATE_FILE))
        state = {"iteration": int(match.group(1)), "legacy": True}
    opt_state = _read_tensors(ckpt_dir, OPTIMIZER_FILE)
    model.set_state_dict(weights)
    if state.get("param_names"):
        opt_state = _rename_optimizer_state(opt_state, state["param_names"], model)
    if _optimizer_state_fits(opt_state, model):
        optimizer.set_state_dict(opt_state)
        state["optimizer_restored"] = True
    else:
        # A file from another program (e.g. the reference) names the accumulators after
        # parameters that do not exist here; Paddle would fail at the first step. Keep the
        # schedule, start the moments afresh.
        schedule = opt_state.get("LR_Scheduler")
        if schedule is not None and hasattr(optimizer._learning_rate, "set_state_dict"):
            optimizer._learning_rate.set_state_dict(schedule)
        state["optimizer_restored"] = False
    return state
