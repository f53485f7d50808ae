"""What stops a training run, and how every process learns of it together.

A run stops, on every process at the same iteration and with one message, when

- a sample cannot be read (a failure batch, see ``utils/sample_guard.py``),
- the loss is not finite (checked before the update),
- the update made a parameter or buffer not finite (checked right after it, so no checkpoint
  ever holds such a state),
- SIGINT or SIGTERM arrives (:func:`handle_stop_signals`; then :class:`TrainingInterrupted`).

Each check is collective when several processes run: one all-reduce of a flag per check, and
only when some process failed, an all-gather of the messages, so that rank 0 reports the
failure of any rank and no process is left waiting for the others in a collective.
"""
import signal

from paddleseg_panoptic.utils.distributed import describe_failures, failures_of_all_ranks
from paddleseg_panoptic.utils.sample_guard import sample_failure
from paddleseg_panoptic.utils.weights import describe_nonfinite, nonfinite_keys

__all__ = ["TrainingError", "TrainingInterrupted", "Interrupted", "handle_stop_signals",
           "check_batch", "check_losses", "check_state", "check_save"]

RESUME_HINT = "resume with --resume_model auto"


class TrainingError(RuntimeError):
    """Training cannot go on (empty epoch, bad sample, non-finite loss or weights, unusable
    checkpoint or save_dir)."""


class Interrupted(KeyboardInterrupt):
    """A stop signal turned into an exception (see :func:`handle_stop_signals`)."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


class TrainingInterrupted(Interrupted):
    """Training stopped by a signal; ``str()`` is the line to show.

    Attributes:
        iteration (int): the iteration in progress (or last finished) when the signal came.
        last_checkpoint (str | None): the newest complete checkpoint.
        exit_code (int): 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, iteration, last_checkpoint, signum):
        super().__init__(signum)
        self.iteration, self.last_checkpoint = iteration, last_checkpoint
        self.exit_code = 128 + self.signum
        self.args = ("{} at iteration {}; last complete checkpoint: {}; {}".format(
            "interrupted (SIGINT)" if self.signum == signal.SIGINT else
            "stopped by {}".format(signal.Signals(self.signum).name), iteration,
            last_checkpoint or "none", RESUME_HINT),)

    def __str__(self):
        return self.args[0]


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def handle_stop_signals():
    """Make SIGINT and SIGTERM raise :class:`Interrupted` in the main thread.

    Paddle replaces SIGTERM's default with a handler that prints a C++ stack and aborts; with
    this, the training loop unwinds, removes a half-written checkpoint and says where to
    resume. Call it from the main thread of a tool, after importing Paddle.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupted)


def _raise_for(failures, what, advice):
    if failures:
        raise TrainingError("{}: {}. {}".format(what, describe_failures(failures), advice))


def _last_checkpoint_text(last_checkpoint):
    if last_checkpoint:
        return "The last checkpoint, {}, holds finite weights".format(last_checkpoint)
    return "No checkpoint was written yet"


def check_batch(batch, iteration):
    """Raise :class:`TrainingError` on every process when any process's batch is a failure
    batch (a sample that could not be read)."""
    failures = failures_of_all_ranks(sample_failure(batch))
    _raise_for(failures, "Cannot build a training sample of iteration {}".format(iteration),
               "Fix or remove that file (and its entry in the dataset's panoptic json), then "
               "{}.".format(RESUME_HINT))


def check_losses(values, iteration, last_checkpoint):
    """Raise :class:`TrainingError` on every process when any process's loss is not finite.

    Args:
        values (dict[str, float]): this process's losses.
    """
    finite = all(value == value and abs(value) != float("inf") for value in values.values())
    message = None if finite else ", ".join("{}={}".format(k, v) for k, v in values.items())
    failures = failures_of_all_ranks(message)
    _raise_for(failures, "Non-finite loss at iteration {}; training stopped before the "
               "update".format(iteration),
               "{}. Lower the learning rate or check the data, then resume from it with "
               "--resume_model.".format(_last_checkpoint_text(last_checkpoint)))


def check_state(model, iteration, last_checkpoint):
    """Raise :class:`TrainingError` on every process when the update of ``iteration`` made
    a parameter or buffer of any process's ``model`` not finite (NaN or inf)."""
    state = model.state_dict()
    bad = nonfinite_keys(state)
    message = describe_nonfinite(bad, len(state), "the model") if bad else None
    failures = failures_of_all_ranks(message)
    _raise_for(failures, "Iteration {} made the weights diverge and was not saved".format(
        iteration), "{}. Lower the learning rate, then resume from it with "
        "--resume_model.".format(_last_checkpoint_text(last_checkpoint)))


def check_save(error, path):
    """Raise :class:`TrainingError` on every process when writing checkpoint ``path`` failed
    (``error``: the failing process's message, None elsewhere); also waits for the writer."""
    failures = failures_of_all_ranks(error)
    _raise_for(failures, "Could not write checkpoint {}".format(path),
               "Free disk space (or fix the folder's permissions), then {}.".format(RESUME_HINT))
