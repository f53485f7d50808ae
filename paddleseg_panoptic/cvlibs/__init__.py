"""Config loading, component building and registration helpers."""
from . import manager  # noqa: F401
from .builder import ConfigError, build_object  # noqa: F401
from .config import Config  # noqa: F401
