"""Reading the reference's PaddleSeg-2.x YAML configs (docs/configs.md).

Loading a file only reads YAML: ``_base_`` files are merged, overrides applied, and nothing is
built until a property asks for it, so a config whose dataset is not on disk or whose
``pretrained`` URL is unreachable can still be inspected, dumped or used with other weights.

Merge rule: a child's mapping merges key by key into the parent's; any other value (number,
string, list) replaces the parent's whole value; a mapping holding ``_inherited_: False``
replaces instead of merging.
"""
import copy
import os

import paddle
import yaml
from paddleseg.utils import logger

from paddleseg_panoptic.cvlibs.builder import ConfigError, build_object, lookup_component
from paddleseg_panoptic.postprocess.defaults import NMS_KERNEL, THRESHOLD, TOP_K

KNOWN_TOP_LEVEL_KEYS = ("batch_size", "iters", "model", "train_dataset", "val_dataset",
                        "optimizer", "learning_rate", "loss", "export", "test_config",
                        "postprocess")

POSTPROCESS_DEFAULTS = {"threshold": THRESHOLD, "nms_kernel": NMS_KERNEL, "top_k": TOP_K}


def _read_yaml(path, named_by=None):
    if not os.path.isfile(path):
        where = " (the `_base_` of {})".format(named_by) if named_by else ""
        raise FileNotFoundError("Config file not found: {}{}".format(path, where))
    with open(path, "r", encoding="utf-8") as f:
        try:
            dic = yaml.safe_load(f)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = " line {}, column {}".format(mark.line + 1, mark.column + 1) if mark else ""
            problem = getattr(e, "problem", None) or str(e)
            raise ConfigError("YAML syntax error in {}{}: {}".format(path, line, problem)) \
                from None
    if dic is None:
        return {}
    if not isinstance(dic, dict):
        raise ConfigError("{} must hold a mapping at the top level, got {}".format(
            path, type(dic).__name__))
    return dic


def merge_config(parent, child):
    """Merge ``child`` into ``parent`` (neither is modified) by the rule of the module doc."""
    merged = copy.deepcopy(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) \
                and value.get("_inherited_", True) is not False:
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _strip_inherited(value):
    if isinstance(value, dict):
        return {k: _strip_inherited(v) for k, v in value.items() if k != "_inherited_"}
    if isinstance(value, list):
        return [_strip_inherited(v) for v in value]
    return value


def load_config_file(path, _chain=()):
    """Read ``path`` and its ``_base_`` chain into one dict (``_inherited_`` flags removed).

    Raises:
        FileNotFoundError: the file or one of its bases does not exist.
        ConfigError: YAML syntax error, non-mapping content, or a cycle of bases.
    """
    path = os.path.abspath(path)
    if path in _chain:
        raise ConfigError("Cycle of _base_ files: {}".format(" -> ".join(_chain + (path,))))
    dic = _read_yaml(path, named_by=_chain[-1] if _chain else None)
    bases = dic.pop("_base_", None)
    if bases is None:
        return _strip_inherited(dic) if not _chain else dic
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError("{}: `_base_` must be a relative path or a list of them, got "
                          "{!r}".format(path, bases))
    merged = {}
    for base in bases:
        base_path = os.path.join(os.path.dirname(path), base)
        merged = merge_config(merged, load_config_file(base_path, _chain + (path,)))
    merged = merge_config(merged, dic)
    return _strip_inherited(merged) if not _chain else merged


def _parse_opt(opt, source):
    if not isinstance(opt, str) or "=" not in opt:
        raise ConfigError("Override {!r} for {} must look like key.sub=value".format(opt, source))
    key, text = opt.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError("Override {!r} for {}: cannot parse the value as YAML: {}".format(
            opt, source, e)) from None
    return key, value


def apply_opts(dic, opts, source):
    """Set ``key.sub=value`` overrides in place; every key must already exist.

    List elements are addressed by index (``train_dataset.transforms.1.crop_size=[513, 257]``).

    Raises:
        ConfigError: malformed override or a key that does not exist, naming both.
    """
    if isinstance(opts, str):
        opts = [opts]
    for opt in opts or ():
        key, value = _parse_opt(opt, source)
        parts = key.split(".")
        node, walked = dic, []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, dict):
                if part not in node:
                    here = ".".join(walked) or "the top level"
                    raise ConfigError(
                        "Override '{}': key `{}` does not exist in {} ({} has keys: {})".format(
                            opt, ".".join(parts[:i + 1]), source, here, ", ".join(map(str, node))))
                if last:
                    node[part] = value
                else:
                    node = node[part]
            elif isinstance(node, list):
                if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                    raise ConfigError(
                        "Override '{}': `{}` is a list of {} items in {}; `{}` is not an index "
                        "of it".format(opt, ".".join(walked), len(node), source, part))
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            else:
                raise ConfigError("Override '{}': `{}` is a {} in {}, it has no key `{}`".format(
                    opt, ".".join(walked), type(node).__name__, source, part))
            walked.append(part)


def _number(value, key, source, kind=float):
    # PyYAML reads "5e-05" (no dot) as a string; accept it as the number it is meant to be.
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError("{}: `{}` must be a number, got {!r}".format(source, key, value)) \
            from None


class Config:
    """A resolved training / evaluation config.

    Args:
        path (str): the YAML file.
        iters (int, optional): replaces ``iters`` (also the schedule's decay steps).
        batch_size (int, optional): replaces ``batch_size`` (per device).
        learning_rate (float, optional): replaces ``learning_rate.value``.
        opts (list[str], optional): ``key.sub=value`` overrides, values parsed as YAML, keys
            must exist. Applied before the three arguments above.

    Nothing is built in the constructor; components are built when their property is read.
    ``model``, ``optimizer``, ``lr_scheduler``, ``loss`` and the datasets are cached.
    """

    def __init__(self, path, iters=None, batch_size=None, learning_rate=None, opts=None):
        self.path = os.path.abspath(path)
        dic = load_config_file(self.path)
        apply_opts(dic, opts, self.path)
        if iters is not None:
            dic["iters"] = _number(iters, "iters", "--iters", int)
        if batch_size is not None:
            dic["batch_size"] = _number(batch_size, "batch_size", "--batch_size", int)
        if learning_rate is not None:
            lr = _number(learning_rate, "learning_rate", "--learning_rate")
            if isinstance(dic.get("learning_rate"), dict):
                dic["learning_rate"]["value"] = lr
            else:
                dic["learning_rate"] = {"value": lr}
        unknown = [k for k in dic if k not in KNOWN_TOP_LEVEL_KEYS]
        if unknown:
            logger.warning("{}: unknown top-level keys ignored: {}".format(self.path, unknown))
        self._dic = dic
        self._cache = {}

    # ------------------------------------------------------------------ plain values
    @property
    def dic(self):
        """dict: the resolved config (bases merged, overrides applied); a copy."""
        return copy.deepcopy(self._dic)

    def _require(self, key):
        if key not in self._dic or self._dic[key] is None:
            raise ConfigError("{}: no `{}` in the config".format(self.path, key))
        return self._dic[key]

    def _positive_int(self, key):
        value = _number(self._require(key), key, self.path, int)
        if value <= 0:
            raise ConfigError("{}: `{}` must be a positive integer, got {}".format(
                self.path, key, value))
        return value

    @property
    def batch_size(self):
        """int: samples per device per step."""
        return self._positive_int("batch_size")

    @property
    def iters(self):
        """int: training iterations."""
        return self._positive_int("iters")

    # ------------------------------------------------------------------ model
    @property
    def model_dic(self):
        """dict: the ``model`` section with ``num_classes`` filled from the dataset class."""
        model = copy.deepcopy(self._require("model"))
        if not isinstance(model, dict) or "type" not in model:
            raise ConfigError("{}: `model` must be a mapping with a `type`".format(self.path))
        if "num_classes" not in model:
            num_classes = self._dataset_num_classes()
            if num_classes is not None:
                model["num_classes"] = num_classes
        return model

    def _dataset_num_classes(self):
        """From a dataset built already, else from the first dataset mapping that tells: its
        ``num_classes``, its class's ``NUM_CLASSES``, or its class's ``class_facts(spec)``
        (files read, e.g. the json's categories; a dataset whose files are missing is skipped
        while another can tell)."""
        for key in ("train_dataset", "val_dataset"):   # a dataset built already knows
            if getattr(self._cache.get(key), "num_classes", None) is not None:
                return self._cache[key].num_classes
        missing = None
        for key in ("train_dataset", "val_dataset"):
            spec = self._dic.get(key)
            if not isinstance(spec, dict):
                continue
            if spec.get("num_classes") is not None:
                return spec["num_classes"]
            if "type" in spec:
                cls = lookup_component(spec["type"], key, self.path)[0]
                if getattr(cls, "NUM_CLASSES", None) is not None:
                    return cls.NUM_CLASSES
                if hasattr(cls, "class_facts"):
                    try:
                        return cls.class_facts(spec)["num_classes"]
                    except FileNotFoundError as err:
                        missing = missing or err
        if missing is not None:
            raise missing
        return None

    def build_model(self, load_pretrained=True):
        """Build a new model.

        Args:
            load_pretrained (bool): False drops every ``pretrained`` key (model and backbone),
                e.g. when weights are loaded from ``--model_path`` afterwards.
        """
        return build_object(self.model_dic, "model", self.path,
                            strip_pretrained=not load_pretrained)

    @property
    def model(self):
        """paddle.nn.Layer: the model, built once with its pretrained weights."""
        if "model" not in self._cache:
            self._cache["model"] = self.build_model()
        return self._cache["model"]

    # ------------------------------------------------------------------ datasets
    def _dataset_class(self, key):
        spec = self._dic.get(key)
        if spec is None:
            return None
        if not isinstance(spec, dict) or "type" not in spec:
            raise ConfigError("{}: `{}` must be a mapping with a `type`".format(self.path, key))
        return lookup_component(spec["type"], key, self.path)[0]

    @property
    def train_dataset_class(self):
        """The class (or function) named by ``train_dataset.type``, not built; None if absent."""
        return self._dataset_class("train_dataset")

    @property
    def val_dataset_class(self):
        """The class (or function) named by ``val_dataset.type``, not built; None if absent."""
        return self._dataset_class("val_dataset")

    def _dataset(self, key):
        if key not in self._cache:
            spec = self._dic.get(key)
            self._cache[key] = None if spec is None else build_object(spec, key, self.path)
        return self._cache[key]

    @property
    def train_dataset(self):
        """The training dataset, built on first access; None if the config has none."""
        return self._dataset("train_dataset")

    @property
    def val_dataset(self):
        """The validation dataset, built on first access; None if the config has none."""
        return self._dataset("val_dataset")

    @property
    def val_transforms(self):
        """list: the validation transforms, built, without building the dataset."""
        spec = (self._dic.get("val_dataset") or {}).get("transforms") or []
        return build_object(spec, "val_dataset.transforms", self.path)

    # ------------------------------------------------------------------ optimisation
    @property
    def lr_scheduler(self):
        """paddle.optimizer.lr.PolynomialDecay over ``iters`` steps (one step per iteration).

        With ``learning_rate.warmup_iters: W`` > 0, the first W iterations raise the rate
        linearly from ``learning_rate.warmup_start_lr`` (default 0) towards ``value``
        (``paddle.optimizer.lr.LinearWarmup``), and the polynomial decay takes the remaining
        ``iters - W``, so the run still ends at ``end_lr``. W is at most ``iters - 1``."""
        if "lr_scheduler" not in self._cache:
            self._cache["lr_scheduler"] = self._build_lr_scheduler()
        return self._cache["lr_scheduler"]

    def _build_lr_scheduler(self):
        lr = self._require("learning_rate")
        if not isinstance(lr, dict):
            lr = {"value": lr}
        if "value" not in lr:
            raise ConfigError("{}: no `learning_rate.value` in the config".format(self.path))
        value = _number(lr["value"], "learning_rate.value", self.path)
        decay = dict(lr.get("decay") or {"type": "poly"})
        decay_type = decay.pop("type", "poly")
        if decay_type != "poly":
            raise ConfigError("{}: `learning_rate.decay.type` {!r} is not supported (only "
                              "'poly')".format(self.path, decay_type))
        power = _number(decay.pop("power", 0.9), "learning_rate.decay.power", self.path)
        end_lr = _number(decay.pop("end_lr", 0.0), "learning_rate.decay.end_lr", self.path)
        if decay:
            raise ConfigError("{}: unknown keys in `learning_rate.decay`: {} (accepted: type, "
                              "power, end_lr)".format(self.path, sorted(decay)))
        warmup = _number(lr.get("warmup_iters", 0), "learning_rate.warmup_iters", self.path,
                         int)
        warmup = min(warmup, self.iters - 1)  # short runs (--iters) keep a decay step
        if warmup <= 0:
            return paddle.optimizer.lr.PolynomialDecay(
                learning_rate=value, decay_steps=self.iters, end_lr=end_lr, power=power)
        start = _number(lr.get("warmup_start_lr", 0.0), "learning_rate.warmup_start_lr",
                        self.path)
        poly = paddle.optimizer.lr.PolynomialDecay(
            learning_rate=value, decay_steps=self.iters - warmup, end_lr=end_lr, power=power)
        return paddle.optimizer.lr.LinearWarmup(poly, warmup_steps=warmup, start_lr=start,
                                                end_lr=value)

    def build_optimizer(self, parameters):
        """Optimizer over ``parameters`` (a model or a parameter list) with ``lr_scheduler``.

        ``type: adam`` is ``paddle.optimizer.Adam`` with Paddle's defaults, ``type: sgd`` is
        ``paddle.optimizer.Momentum`` (``momentum`` default 0.9); other keys are passed on.
        """
        if isinstance(parameters, paddle.nn.Layer):
            parameters = parameters.parameters()
        spec = dict(self._require("optimizer"))
        kind = str(spec.pop("type", "")).lower()
        if kind == "adam":
            cls = paddle.optimizer.Adam
        elif kind == "sgd":
            cls = paddle.optimizer.Momentum
            spec.setdefault("momentum", 0.9)
        else:
            raise ConfigError("{}: `optimizer.type` {!r} is not supported (adam or sgd)".format(
                self.path, kind))
        try:
            return cls(learning_rate=self.lr_scheduler, parameters=parameters, **spec)
        except TypeError as e:
            raise ConfigError("{}: bad key in `optimizer` for {}: {}".format(
                self.path, cls.__name__, e)) from None

    @property
    def optimizer(self):
        """paddle.optimizer.Optimizer over ``self.model``'s parameters (built once)."""
        if "optimizer" not in self._cache:
            self._cache["optimizer"] = self.build_optimizer(self.model)
        return self._cache["optimizer"]

    @property
    def loss(self):
        """dict: ``{'types': [semantic, center, offset loss objects], 'coef': [floats]}``."""
        if "loss" not in self._cache:
            spec = self._require("loss")
            if not isinstance(spec, dict) or "types" not in spec or "coef" not in spec:
                raise ConfigError("{}: `loss` must have `types` and `coef`".format(self.path))
            types, coef = spec["types"], spec["coef"]
            if not isinstance(types, list) or not isinstance(coef, list) \
                    or len(types) != len(coef):
                raise ConfigError("{}: `loss.types` and `loss.coef` must be lists of the same "
                                  "length, got {!r} and {!r}".format(self.path, types, coef))
            self._cache["loss"] = {
                "types": build_object(types, "loss.types", self.path),
                "coef": [_number(c, "loss.coef.{}".format(i), self.path)
                         for i, c in enumerate(coef)]}
        return self._cache["loss"]

    @property
    def postprocess(self):
        """dict: ``threshold``, ``nms_kernel`` and ``top_k`` (None: no limit) of centre finding:
        the config's ``postprocess`` section, the package defaults for what it leaves out.
        The tools use them unless ``--threshold`` / ``--nms_kernel`` / ``--top_k`` are given."""
        spec = self._dic.get("postprocess") or {}
        if not isinstance(spec, dict) or set(spec) - set(POSTPROCESS_DEFAULTS):
            raise ConfigError("{}: `postprocess` may only set {}, got {!r}".format(
                self.path, ", ".join(POSTPROCESS_DEFAULTS), spec))
        kinds = {"threshold": float, "nms_kernel": int, "top_k": int}
        out = dict(POSTPROCESS_DEFAULTS)
        for key, value in spec.items():
            if value is not None:
                out[key] = _number(value, "postprocess." + key, self.path, kinds[key])
        if out["top_k"] is not None and out["top_k"] <= 0:
            out["top_k"] = None  # no limit, as --top_k 0
        return out

    # ------------------------------------------------------------------ output
    def dump(self, path):
        """Write the resolved config (loadable again with ``Config``) to ``path``."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(str(self))

    def __str__(self):
        return yaml.safe_dump(self._dic, default_flow_style=None, sort_keys=False)
