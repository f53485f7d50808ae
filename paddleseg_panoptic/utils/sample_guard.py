"""Data loading that reports a bad sample instead of hanging.

Paddle's ``DataLoader`` builds batches in a background thread (``num_workers=0``) or in worker
processes. An exception raised while reading a sample in that thread ends the thread without
telling the reader, so the training or evaluation loop waits forever for a batch that never
comes (and, blocked inside Paddle, does not even see Ctrl-C); with worker processes the error
surfaces as ``SystemError: Blocking queue is killed`` after a foreign traceback.

Here a sample that cannot be built never raises inside the loader: :class:`CatchSampleErrors`
turns the exception into a one-line message, :func:`collate` makes the batch holding it a
*failure batch* (the message as a uint8 array under :data:`FAILURE_KEY`), and the loop asks
:func:`sample_failure` about each batch and raises :class:`SampleError` itself. The failure
batch travels through every loader path (thread, worker processes, shared memory) like any
other batch, so the loop sees it for every ``num_workers`` and, under several processes, can
agree with the others before stopping.
"""
import numpy as np
import paddle
from paddle.io.dataloader.collate import default_collate_fn

__all__ = ["FAILURE_KEY", "SampleError", "CatchSampleErrors", "collate", "sample_failure"]

FAILURE_KEY = "__sample_failure__"


class SampleError(RuntimeError):
    """A sample could not be read or built (corrupt file, labels of another size, ...)."""


class _Failure:
    """What :class:`CatchSampleErrors` returns for a sample that raised."""

    def __init__(self, message):
        self.message = message


def _sample_files(dataset, index):
    """The files of sample ``index`` when the dataset keeps ``records`` (else [])."""
    try:
        record = dataset.records[index]
    except (AttributeError, TypeError, KeyError, IndexError):
        return []
    return [record[key] for key in ("image_path", "label_path") if record.get(key)]


def describe_failure(dataset, index, error):
    """One line naming the problem and, when the message does not already, the files."""
    text = " ".join(str(error).split()) or type(error).__name__
    if not isinstance(error, (OSError, ValueError)):
        text = "{}: {}".format(type(error).__name__, text)
    files = _sample_files(dataset, index)
    if not any(path in text for path in files):
        text = "sample {}{}: {}".format(index, " ({})".format(", ".join(files)) if files else "",
                                        text)
    return text


class CatchSampleErrors(paddle.io.Dataset):
    """Wraps a dataset so that a sample raising ``Exception`` comes back as a failure marker.

    Wrap the dataset itself (before ``paddle.io.Subset`` or any index-changing wrapper) so
    that the message names the sample's files. Use with ``collate_fn=collate``.

    Args:
        dataset (paddle.io.Dataset): indexed by int.
    """

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        try:
            return self.dataset[index]
        except Exception as error:  # any failure must reach the loop, not kill the loader
            return _Failure(describe_failure(self.dataset, index, error))


def collate(samples):
    """Paddle's default collate, or a failure batch when one of ``samples`` failed."""
    for sample in samples:
        if isinstance(sample, _Failure):
            return {FAILURE_KEY: np.frombuffer(sample.message.encode("utf-8"), dtype=np.uint8)}
    return default_collate_fn(samples)


def sample_failure(batch):
    """The failure message a batch carries, or None for an ordinary batch."""
    if not isinstance(batch, dict) or FAILURE_KEY not in batch:
        return None
    data = batch[FAILURE_KEY]
    data = data.numpy() if isinstance(data, paddle.Tensor) else np.asarray(data)
    return data.astype(np.uint8).tobytes().decode("utf-8", errors="replace")


