"""Imports OpenCV before anything imports Paddle, with clear errors for broken installs.

Paddle 2.6 links its own zlib into ``libpaddle.so``. When ``paddle`` is imported before ``cv2``,
OpenCV's PNG codec can bind to that copy and reading or writing a PNG crashes with a
segmentation fault in ``inflateReset2``. Importing ``cv2`` first avoids it, so the package's
``__init__`` imports this module before any module that imports Paddle, and every tool,
benchmark and test imports the package (or ``cv2``) before ``paddle``. When a user's script
has imported Paddle 2.x first, importing the package warns. Paddle 3 is not affected.

This module must not import ``paddle``.
"""
import sys
import warnings

# Shared libraries the opencv-python wheel needs from the system, and the Debian / Ubuntu
# packages that provide them (opencv-python-headless needs neither).
SYSTEM_LIBRARIES = {"libGL.so.1": "libgl1", "libgthread-2.0.so.0": "libglib2.0-0"}

ORDER_WARNING = ("paddle {} was imported before cv2: with Paddle 2.x, reading or writing a PNG "
                 "with OpenCV can then crash the process (segmentation fault in zlib's "
                 "inflateReset2), even while paddleseg_panoptic is being imported. Import "
                 "paddleseg_panoptic (or cv2) before paddle.")


def missing_library_message(error):
    """Explains an OpenCV import error caused by a missing system library, or returns None.

    Args:
        error (ImportError): what ``import cv2`` raised.

    Returns:
        str or None: a message naming the missing library and the apt packages to install.
    """
    text = str(error)
    missing = [lib for lib in SYSTEM_LIBRARIES if lib.split(".so")[0] in text]
    if not missing:
        return None
    return ("OpenCV cannot be imported: {} (missing system library {}). On a headless "
            "Debian/Ubuntu server install them with:\n    apt-get install -y {}".format(
                text, ", ".join(missing), " ".join(sorted(SYSTEM_LIBRARIES.values()))))


def _first_import(order, package):
    """Position in ``order`` of the first module of ``package`` (None when never imported)."""
    prefix = package + "."
    return next((i for i, name in enumerate(order)
                 if name == package or name.startswith(prefix)), None)


def paddle_imported_too_early():
    """The version of a Paddle 2.x imported before OpenCV, or None when the order is safe.

    Paddle imports cv2 itself, so what matters is which of the two was imported first.
    ``sys.modules`` keeps the order in which imports started (both packages re-insert their
    own top-level entry later, so their first submodules are compared).
    """
    version = getattr(sys.modules.get("paddle"), "__version__", "")
    if not version.startswith("2."):
        return None
    order = list(sys.modules)
    cv2_first = _first_import(order, "cv2")
    if cv2_first is not None and cv2_first < _first_import(order, "paddle"):
        return None
    return version


def import_cv2():
    """Imports and returns ``cv2``; warns when a Paddle 2.x was imported before it.

    Raises:
        ImportError: OpenCV cannot be loaded; names the missing system library and the apt
            packages when that is the cause.
    """
    early = paddle_imported_too_early()
    if early:
        # A warning, not an error: some such scripts work, and when it crashes the message
        # is already on stderr.
        warnings.warn(ORDER_WARNING.format(early), RuntimeWarning, stacklevel=3)
    try:
        import cv2
    except ImportError as err:
        message = missing_library_message(err)
        if message is None:
            raise
        raise ImportError(message) from err
    return cv2


cv2 = import_cv2()
