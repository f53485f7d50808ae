"""Output folders checked before any work is done."""
import os
import tempfile

__all__ = ["check_output_dir"]


def check_output_dir(path, what):
    """Make sure ``path`` is, or can be made, a folder in which files can be written.

    An existing folder gets a real test write (a temporary file, removed); for a missing one the
    nearest existing parent must be a writable folder. Nothing is created, so a run that fails
    later for another reason leaves no empty output folder behind.

    Args:
        path (str): the folder.
        what (str): how the user named it (e.g. ``'--save_dir'``), for the message.

    Raises:
        ValueError: naming ``what`` and ``path``: it is a file, cannot be created, or is not
            writable.
    """
    if os.path.isdir(path):
        try:
            fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
            os.close(fd)
            os.remove(probe)
        except OSError as e:
            raise ValueError("{} {} cannot be written: {}".format(
                what, path, e.strerror or e)) from None
        return
    if os.path.exists(path):
        raise ValueError("{} {} is a file, not a folder".format(what, path))
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError("{} {} cannot be created: {} is a file".format(what, path, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError("{} {} cannot be created: no permission to write in {}".format(
            what, path, parent))
