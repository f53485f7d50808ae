"""What a training run leaves to read later: ``train.log`` and ``metrics.jsonl`` in ``save_dir``.

``train.log``: everything the run prints through Python (``print``, paddleseg's logger,
warnings, tracebacks) on rank 0; on the other ranks only what they write to stderr (warnings,
errors), each line prefixed with ``[rank N]``. Runs in the same ``save_dir`` append to it.
Messages that native libraries write straight to the process's file descriptors (Paddle's C++
log lines) reach the terminal only.

``metrics.jsonl``: one JSON object per line, in iteration order::

    {"type": "train", "iteration": 20, "epoch": 1, "loss": 2.13, "loss_semantic": 1.90, ...,
     "lr": 0.000945, "batch_cost": 1.23, "reader_cost": 0.012, "ips": 3.24, "time": ...}
    {"type": "eval", "iteration": 300, "PQ": 0.24, "SQ": ..., "RQ": ..., "PQ_things": ...,
     "mIoU": 35.2, "mAP": 10.1, "mAP50": 20.3, "seconds": 12.5, "time": ...}

``time`` is the Unix time the line was written, ``seconds`` the evaluation's duration. A resumed
run first rewrites the file with the history of the checkpoint it resumes from (the lines up
to its iteration), so every iteration appears once however often the run was interrupted.
"""
import contextlib
import functools
import inspect
import json
import os
import sys
import time
import traceback
import uuid

import paddle.distributed as dist

from paddleseg_panoptic.core.train_guard import TrainingError
from paddleseg_panoptic.utils.paths import check_output_dir

__all__ = ["LOG_FILE", "METRICS_FILE", "run_log", "logged_to_save_dir", "MetricsLog",
           "read_metrics"]

LOG_FILE = "train.log"
METRICS_FILE = "metrics.jsonl"

_ACTIVE = {}  # log path -> number of nested run_log() blocks writing it in this process


class _Tee:
    """A text stream that writes to ``stream`` and, line by line, to the log file.

    Progress bars redraw a line with ``\\r``; the file gets only the line's final state.
    """

    def __init__(self, stream, path, prefix=""):
        self.stream, self.path, self.prefix = stream, path, prefix
        self._pending = ""
        self._file = None

    def write(self, text):
        self.stream.write(text)
        self._pending += text
        if "\n" in self._pending:
            *lines, self._pending = self._pending.split("\n")
            self._write_file("".join(self.prefix + line.rsplit("\r", 1)[-1] + "\n"
                                     for line in lines))
        return len(text)

    def _write_file(self, text):
        try:
            if self._file is None:  # opened on first use: quiet ranks create no file
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(text)
            self._file.flush()
        except OSError:
            pass  # a full disk must not stop training; the terminal still has the text

    def flush(self):
        self.stream.flush()

    def close(self):
        if self._pending.strip():
            self._write_file(self.prefix + self._pending.rsplit("\r", 1)[-1] + "\n")
        self._pending = ""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getattr__(self, name):  # isatty, encoding, fileno ... of the real stream
        return getattr(self.stream, name)


@contextlib.contextmanager
def run_log(save_dir, rank=0):
    """Copy what this process prints to ``save_dir/train.log`` while the block runs.

    Rank 0 copies stdout and stderr; other ranks copy stderr with a ``[rank N] `` prefix. An
    exception leaving the block is written to the log with its traceback. Nested blocks for the
    same ``save_dir`` (the launcher around :func:`~paddleseg_panoptic.core.train.train`) write
    once.
    """
    os.makedirs(save_dir, exist_ok=True)
    path = os.path.abspath(os.path.join(save_dir, LOG_FILE))
    if _ACTIVE.get(path):
        _ACTIVE[path] += 1
        try:
            yield path
        finally:
            _ACTIVE[path] -= 1
        return
    saved = sys.stdout, sys.stderr
    tees = [_Tee(sys.stderr, path, "" if rank == 0 else "[rank {}] ".format(rank))]
    sys.stderr = tees[0]
    if rank == 0:
        tees.append(_Tee(sys.stdout, path))
        sys.stdout = tees[1]
    _ACTIVE[path] = 1
    try:
        yield path
    except BaseException as error:
        if not isinstance(error, (SystemExit, GeneratorExit)):
            tees[0]._write_file("".join(
                tees[0].prefix + line + "\n"
                for line in "".join(traceback.format_exc()).rstrip("\n").split("\n")))
        raise
    finally:
        del _ACTIVE[path]
        sys.stdout, sys.stderr = saved
        for tee in tees:
            tee.close()


def logged_to_save_dir(function):
    """Decorator: check ``function``'s ``save_dir`` keyword argument (or that argument's
    default) is a writable folder, then run ``function`` inside :func:`run_log` for it, on this
    process's rank.

    Raises:
        TrainingError: ``save_dir`` is a file, cannot be created or is not writable.
    """
    default = inspect.signature(function).parameters["save_dir"].default

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        save_dir = kwargs.get("save_dir", default)
        try:  # before the log is opened: a bad folder is reported, not half made
            check_output_dir(save_dir, "--save_dir")
        except ValueError as e:
            raise TrainingError(str(e)) from None
        with run_log(save_dir, dist.get_rank()):
            return function(*args, **kwargs)
    return wrapper


def read_metrics(path):
    """The records of a ``metrics.jsonl`` file (``[]`` when it does not exist).

    Raises:
        ValueError: a line is not a JSON object with an ``iteration`` (names file and line).
    """
    if not os.path.isfile(path):
        return []
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                int(record["iteration"])
            except (ValueError, TypeError, KeyError):
                if not line.endswith("\n"):
                    break  # the last line of a run killed while writing it
                raise ValueError("{} line {}: not a metrics record: {!r}".format(
                    path, number, line[:200])) from None
            records.append(record)
    return records


class MetricsLog:
    """Appends the records of one run to ``save_dir/metrics.jsonl`` (rank 0 only).

    Args:
        save_dir (str): the run's output directory.
        start_iter (int): the iteration the run starts from (0 for a fresh start).
        history (str|None): the ``metrics.jsonl`` holding the history up to ``start_iter``
            (the one next to the resumed checkpoint); its records after ``start_iter`` are
            dropped, as the run is about to redo those iterations. None: a fresh history.
    """

    def __init__(self, save_dir, start_iter=0, history=None):
        os.makedirs(save_dir, exist_ok=True)
        self.path = os.path.join(save_dir, METRICS_FILE)
        kept = [r for r in read_metrics(history) if int(r["iteration"]) <= start_iter] \
            if history else []
        tmp = "{}.tmp-{}".format(self.path, uuid.uuid4().hex[:8])
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in kept)
        os.replace(tmp, self.path)

    def append(self, kind, iteration, values):
        """Write one record: ``{'type': kind, 'iteration': iteration, **values, 'time'}``."""
        record = dict(values, type=kind, iteration=int(iteration), time=round(time.time(), 3))
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
