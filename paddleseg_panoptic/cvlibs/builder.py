"""Building components from ``type:`` mappings through paddleseg's component managers.

A mapping ``{type: Name, key: value, ...}`` becomes ``Name(key=value, ...)`` where ``Name`` is
registered in one of the managers; nested mappings and lists are built first, so
``model.backbone`` is an object by the time the model is constructed. A backbone's
``pretrained`` is taken out before the backbone is built (paddleseg's backbones would download
it inside their constructor) and loaded afterwards with
:func:`paddleseg_panoptic.utils.weights.load_pretrained`, whose errors say how to fix them.
"""
import contextlib
import difflib
import inspect
import numbers
import re
import sys

from paddleseg_panoptic.cvlibs import manager


class ConfigError(ValueError):
    """A config file is malformed or names something that does not exist."""


# What paddleseg's ResNet backbones support (any other value silently gives 32).
BACKBONE_OUTPUT_STRIDES = (8, 16, 32)


@contextlib.contextmanager
def _quiet_paddleseg_info():
    from paddleseg.utils import logger

    level = logger.log_level
    logger.log_level = min(level, 1)  # warnings and errors still show
    try:
        yield
    finally:
        logger.log_level = level


# Which managers a key path prefers, so a name registered in two managers resolves by context.
_PREFERRED = (
    ("model.backbone", manager.BACKBONES),
    ("model", manager.MODELS),
    ("train_dataset.transforms", manager.TRANSFORMS),
    ("val_dataset.transforms", manager.TRANSFORMS),
    ("train_dataset", manager.DATASETS),
    ("val_dataset", manager.DATASETS),
    ("loss", manager.LOSSES),
)


def _managers_for(key):
    preferred = [m for prefix, m in _PREFERRED if key == prefix or key.startswith(prefix + ".")]
    return preferred[:1] + [m for m in manager.ALL_MANAGERS if m not in preferred[:1]]


def lookup_component(type_name, key, source):
    """Return ``(component, manager)`` registered under ``type_name``.

    Args:
        type_name (str): the ``type`` value.
        key (str): dotted config key of the mapping, for messages.
        source (str): config file, for messages.

    Raises:
        ConfigError: no manager has that name; lists the closest registered names.
    """
    if not isinstance(type_name, str):
        raise ConfigError("{}: `{}.type` must be a component name, got {!r}".format(
            source, key, type_name))
    managers = _managers_for(key)
    for mgr in managers:
        if type_name in mgr.components_dict:
            return mgr.components_dict[type_name], mgr
    names = sorted({n for mgr in managers for n in mgr.components_dict})
    close = difflib.get_close_matches(type_name, names, n=5, cutoff=0.5)
    hint = "did you mean {}?".format(", ".join(close)) if close else \
        "registered in {}: {}".format(managers[0].name,
                                      ", ".join(sorted(managers[0].components_dict))[:400])
    raise ConfigError("{}: unknown component type '{}' at `{}.type` ({}). Is the package that "
                      "registers it imported?".format(source, type_name, key, hint))


def describe_signature(component, error=None):
    """``Name(arg=default, ...)`` for messages; classes report their ``__init__``.

    A registered function taking only ``**kwargs`` (paddleseg's ``ResNet50_vd(**args)``)
    says nothing useful; when ``error`` names the class that rejected the argument
    (``ResNet_vd.__init__() got ...``) and its module defines it, that class is shown too.
    """
    try:
        text = "{}{}".format(component.__name__, inspect.signature(component))
    except (TypeError, ValueError):
        return component.__name__
    match = re.match(r"(\w+)\.__init__\(\)", str(error or ""))
    module = sys.modules.get(getattr(component, "__module__", ""), None)
    inner = getattr(module, match.group(1), None) if match else None
    if inner is not None and inner is not component:
        try:
            text += " -> {}{}".format(inner.__name__, inspect.signature(inner))
        except (TypeError, ValueError):
            pass
    return text


def _check_arguments(component, kwargs, type_name, key, source):
    try:
        signature = inspect.signature(component)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**kwargs)
    except TypeError as e:
        raise ConfigError("{}: bad argument for component {} at `{}`: {}. Accepted: {}".format(
            source, type_name, key, e, describe_signature(component))) from None
    for name, value in kwargs.items():
        param = signature.parameters.get(name)
        if param is None or param.default is inspect.Parameter.empty:
            continue
        # A word where the default is a number, a list or a flag is the usual slip of an
        # override (``--opts crop_size=abc``); other types are left to the component.
        expected = _EXPECTED.get(type(param.default))
        if expected is not None and isinstance(value, str):
            raise ConfigError("{}: `{}.{}` of {} must be {} (default {!r}), got {!r}".format(
                source, key, name, type_name, expected, param.default, value))


_EXPECTED = {bool: "true or false", int: "a number", float: "a number", list: "a list",
             tuple: "a list"}


def _check_backbone(kwargs, key, source):
    stride = kwargs.get("output_stride")
    if stride is not None and stride not in BACKBONE_OUTPUT_STRIDES:
        raise ConfigError("{}: `{}.output_stride` must be one of {}, got {!r}".format(
            source, key, ", ".join(map(str, BACKBONE_OUTPUT_STRIDES)), stride))


def _call(component, kwargs, type_name, key, source):
    _check_arguments(component, kwargs, type_name, key, source)
    try:
        return component(**kwargs)
    except TypeError as e:
        # Registered functions such as paddleseg's ResNet50_vd(**args) accept anything and
        # fail one call deeper; report those in config terms too.
        text = str(e)
        if "unexpected keyword argument" in text or "required positional argument" in text:
            raise ConfigError("{}: bad argument for component {} at `{}`: {}. Accepted: "
                              "{}".format(source, type_name, key, text,
                                          describe_signature(component, text))) from None
        raise ConfigError("{}: cannot build {} at `{}` from these values: {} ({}: {})".format(
            source, type_name, key, kwargs_text(kwargs), type(e).__name__, text)) from None
    except (ValueError, AssertionError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError("{}: cannot build {} at `{}` from these values: {} ({}: {})".format(
            source, type_name, key, kwargs_text(kwargs), type(e).__name__, e)) from None


def kwargs_text(kwargs):
    """Short ``name=value`` list of the plain values (built objects left out)."""
    plain = ["{}={!r}".format(k, v) for k, v in kwargs.items()
             if v is None or isinstance(v, (numbers.Number, str, list, tuple, dict))]
    return ", ".join(plain)[:300]


def build_object(spec, key, source, strip_pretrained=False):
    """Build every ``type:`` mapping inside ``spec`` (depth first).

    Args:
        spec: a value of the resolved config (mapping, list or scalar).
        key (str): its dotted key, for messages (``model``, ``loss.types.0``, ...).
        source (str): the config file, for messages.
        strip_pretrained (bool): drop every ``pretrained`` key so nothing is downloaded.

    Returns:
        The built object; mappings without ``type`` stay dicts, lists stay lists.
    """
    if isinstance(spec, list):
        return [build_object(v, "{}.{}".format(key, i), source, strip_pretrained)
                for i, v in enumerate(spec)]
    if not isinstance(spec, dict):
        return spec
    if "type" not in spec:
        return {k: build_object(v, "{}.{}".format(key, k), source, strip_pretrained)
                for k, v in spec.items()}
    type_name = spec["type"]
    component, mgr = lookup_component(type_name, key, source)
    kwargs = {}
    for k, v in spec.items():
        if k == "type" or (strip_pretrained and k == "pretrained"):
            continue
        kwargs[k] = build_object(v, "{}.{}".format(key, k), source, strip_pretrained)
    pretrained = None
    if mgr is manager.BACKBONES:
        _check_backbone(kwargs, key, source)
        pretrained = kwargs.pop("pretrained", None)
    if mgr is manager.BACKBONES and pretrained is not None or strip_pretrained:
        # paddleseg's backbones log "No pretrained model to load, ... trained from scratch"
        # when built without weights; here the weights come afterwards (or from --model_path).
        with _quiet_paddleseg_info():
            obj = _call(component, kwargs, type_name, key, source)
    else:
        obj = _call(component, kwargs, type_name, key, source)
    if pretrained is not None:
        from paddleseg_panoptic.utils.weights import load_pretrained
        load_pretrained(obj, pretrained, key="{}.pretrained".format(key))
    return obj
