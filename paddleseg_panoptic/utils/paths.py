"""Output folders checked before any work is done."""
import os
import tempfile

__all__ = ["check_output_dir"]


def check_output_dir(path, what):
    """Create ``path`` if needed and make sure a file can be written in it.

    Args:
        path (str): the folder.
        what (str): how the user named it (e.g. ``'--save_dir'``), for the message.

    Raises:
        ValueError: naming ``what`` and ``path``: it is a file, cannot be created, or is not
            writable.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError("{} {} is a file, not a folder".format(what, path))
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise ValueError("{} {} cannot be written: {}".format(
            what, path, e.strerror or e)) from None
