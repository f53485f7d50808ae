"""``deploy.yaml``: everything an exported model needs to run without its config.

An export folder holds the Paddle inference model (``model.json`` on Paddle 3.x, ``model.pdmodel``
on Paddle 2.6, plus ``model.pdiparams``), optionally ``model.onnx``, and ``deploy.yaml``, written
last so that a folder with a ``deploy.yaml`` is complete. The file records:

- ``format_version``: :data:`FORMAT_VERSION`; a reader refuses newer formats;
- ``model``: the files (name and size in bytes), the input (``[N, 3, H, W]`` float32, ``-1`` for a
  dynamic size) and output names, ``num_classes`` and ``align_corners``;
- ``preprocess``: the config's validation transforms (config mappings, applied to the RGB image;
  a ``Padding`` among them is skipped), ``size_divisor`` and the padding rule (zeros at the
  bottom / right up to ``k * d + 1`` with ``align_corners``, else ``k * d``);
- ``dataset``: the class facts (:class:`~paddleseg_panoptic.datasets.facts.DatasetFacts`);
- ``postprocess``: ``threshold``, ``nms_kernel``, ``top_k`` (null: no limit);
- ``source``: the config path and its resolved content, the checkpoint path and SHA-256, and the
  Paddle version that exported.
"""
import dataclasses
import os

import yaml

from paddleseg_panoptic.datasets.facts import DatasetFacts

__all__ = ["FORMAT_VERSION", "DEPLOY_EXTRA_HINT", "DEPLOY_FILE", "ONNX_FILE", "PARAMS_FILE",
           "DeployError", "DeployInfo", "read_deploy_info", "write_deploy_info"]

FORMAT_VERSION = 1
DEPLOY_FILE = "deploy.yaml"
ONNX_FILE = "model.onnx"
PARAMS_FILE = "model.pdiparams"
# Program files of the Paddle inference model, by the format of the Paddle that wrote them.
PROGRAM_FILES = ("model.json", "model.pdmodel")
OUTPUT_NAMES = ("semantic", "center", "offset")
DEPLOY_EXTRA_HINT = ('install the deploy extra: pip install -e ".[deploy]" '
                     '(pins in requirements-deploy.txt)')


class DeployError(ValueError):
    """An export folder that cannot be used: a missing or unreadable file, or a bad deploy.yaml."""


@dataclasses.dataclass(frozen=True)
class DeployInfo:
    """The content of a ``deploy.yaml`` (see the module doc), checked.

    Attributes:
        model_dir (str): the folder holding it.
        files (dict): kind (``program``, ``params``, ``onnx``) -> file name, present kinds only.
        input_name (str), input_shape (list[int]), align_corners (bool), num_classes (int)
        transforms (list[dict]): config mappings of the validation transforms.
        size_divisor (int)
        facts (DatasetFacts)
        postprocess (dict): ``threshold``, ``nms_kernel``, ``top_k``.
        source (dict)
    """
    model_dir: str
    files: dict
    input_name: str
    input_shape: list
    align_corners: bool
    num_classes: int
    transforms: list
    size_divisor: int
    facts: DatasetFacts
    postprocess: dict
    source: dict

    def path(self, kind):
        """Full path of the file of ``kind``; DeployError if the export has none."""
        if kind not in self.files:
            raise DeployError("{} has no {} file{}".format(
                self.model_dir, kind,
                " (export with --onnx to write model.onnx)" if kind == "onnx" else ""))
        return os.path.join(self.model_dir, self.files[kind])


def write_deploy_info(model_dir, *, files, input_name, input_shape, align_corners, num_classes,
                      transforms, size_divisor, facts, postprocess, source):
    """Write ``model_dir/deploy.yaml`` (arguments: see :class:`DeployInfo`); returns its path.

    The sizes of ``files`` are read from disk now, so write this file after the model files.
    """
    document = {
        "format_version": FORMAT_VERSION,
        "model": {
            "files": {kind: {"name": name,
                             "bytes": os.path.getsize(os.path.join(model_dir, name))}
                      for kind, name in files.items()},
            "input": {"name": input_name, "shape": [int(s) for s in input_shape],
                      "dtype": "float32"},
            "outputs": list(OUTPUT_NAMES),
            "num_classes": int(num_classes),
            "align_corners": bool(align_corners),
        },
        "preprocess": {"color": "RGB", "transforms": transforms,
                       "size_divisor": int(size_divisor),
                       "padding": "bottom_right: k * size_divisor + 1 with align_corners, "
                                  "else k * size_divisor"},
        "dataset": facts.to_dict(),
        "postprocess": dict(postprocess),
        "source": source,
    }
    path = os.path.join(model_dir, DEPLOY_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump(document, f, sort_keys=False, allow_unicode=True,
                       default_flow_style=None)
    os.replace(tmp, path)
    return path


def _get(mapping, key, where, path):
    if not isinstance(mapping, dict) or key not in mapping:
        raise DeployError("{}: missing key `{}`{}; export the model again with "
                          "tools/export.py".format(path, key, " in `{}`".format(where)
                                                   if where else ""))
    return mapping[key]


def read_deploy_info(model_dir):
    """Read and check ``model_dir/deploy.yaml`` and the presence of the files it names.

    Raises:
        DeployError: the folder or ``deploy.yaml`` is missing, the YAML is bad or of a newer
            format, a key is missing, or a model file is missing or has another size (the
            message names the file).
    """
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        raise DeployError("Model folder not found: {}".format(model_dir))
    path = os.path.join(model_dir, DEPLOY_FILE)
    if not os.path.isfile(path):
        raise DeployError("{} not found: {} is not an export folder (or its export did not "
                          "finish); write one with tools/export.py".format(path, model_dir))
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise DeployError("{} is not valid YAML: {}".format(path, e)) from None
    version = _get(doc, "format_version", "", path)
    if not isinstance(version, int) or version < 1:
        raise DeployError("{}: bad format_version {!r}".format(path, version))
    if version > FORMAT_VERSION:
        raise DeployError("{} has format_version {}, newer than this paddleseg_panoptic reads "
                          "({}); upgrade paddleseg_panoptic or export again with this "
                          "one".format(path, version, FORMAT_VERSION))
    model = _get(doc, "model", "", path)
    files = {}
    for kind, entry in _get(model, "files", "model", path).items():
        name = _get(entry, "name", "model.files." + kind, path)
        file_path = os.path.join(model_dir, name)
        if not os.path.isfile(file_path):
            raise DeployError("{}: the {} file {} named by {} is missing".format(
                model_dir, kind, file_path, DEPLOY_FILE))
        size = entry.get("bytes")
        if size is not None and os.path.getsize(file_path) != size:
            raise DeployError("{}: {} has {} bytes, {} recorded {} (a file from another "
                              "export?)".format(model_dir, file_path,
                                                os.path.getsize(file_path), DEPLOY_FILE, size))
        files[kind] = name
    for kind in ("program", "params"):
        _get(files, kind, "model.files", path)
    model_input = _get(model, "input", "model", path)
    preprocess = _get(doc, "preprocess", "", path)
    dataset = _get(doc, "dataset", "", path)
    try:
        facts = DatasetFacts.from_dict(dataset)
    except (KeyError, TypeError, ValueError) as e:
        raise DeployError("{}: bad `dataset` section: {}: {}".format(
            path, type(e).__name__, e)) from None
    postprocess = _get(doc, "postprocess", "", path)
    for key in ("threshold", "nms_kernel", "top_k"):
        _get(postprocess, key, "postprocess", path)
    return DeployInfo(
        model_dir=model_dir, files=files,
        input_name=_get(model_input, "name", "model.input", path),
        input_shape=list(_get(model_input, "shape", "model.input", path)),
        align_corners=bool(_get(model, "align_corners", "model", path)),
        num_classes=int(_get(model, "num_classes", "model", path)),
        transforms=list(_get(preprocess, "transforms", "preprocess", path)),
        size_divisor=int(_get(preprocess, "size_divisor", "preprocess", path)),
        facts=facts, postprocess=dict(postprocess), source=doc.get("source") or {})
