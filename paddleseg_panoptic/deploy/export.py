"""Export a trained model to a folder that runs without the training code (``tools/export.py``).

What the folder holds is described in :mod:`paddleseg_panoptic.deploy.info`. The weights are
checked against the config before anything is written; ``deploy.yaml`` is written last.

Run an export in its own process (as ``tools/export.py`` does): on Paddle 3.x, calling a dygraph
model in a process after ``paddle.jit.save`` has crashed it.
"""
import hashlib
import inspect
import os

import paddle
from paddleseg.utils import logger

from paddleseg_panoptic.transforms.padding import SIZE_DIVISOR
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.deploy import info as deploy_info
from paddleseg_panoptic.deploy.info import DEPLOY_EXTRA_HINT, DeployError
from paddleseg_panoptic.postprocess import defaults
from paddleseg_panoptic.utils.weights import load_weights, resolve_model_path

__all__ = ["export_model", "convert_to_onnx", "check_input_shape", "DEFAULT_OPSET"]

DEFAULT_OPSET = 13


def _sha256(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def check_input_shape(shape):
    """``[N, 3, H, W]`` with positive sizes or -1 (dynamic); returns it as a list of ints."""
    shape = [int(s) for s in shape]
    if len(shape) != 4 or shape[1] != 3 or any(s == 0 or s < -1 for s in shape):
        raise ValueError("--input_shape must be N 3 H W with positive sizes or -1 (dynamic), "
                         "got {}".format(shape))
    return shape


def convert_to_onnx(program_file, params_file, onnx_file, opset=DEFAULT_OPSET):
    """Convert a Paddle inference model to ONNX with paddle2onnx.

    paddle2onnx's own graph optimisation (Polygraphy) is not used: it may pip-install packages
    while it runs. onnxruntime folds constants itself when it loads the model.

    Args:
        opset (int): the lowest ONNX opset; paddle2onnx raises it where an operator needs a
            newer one (e.g. hard_swish, in MobileNetV3, needs 14 with paddle2onnx 1.x). With a
            fixed opset it aborts the whole process instead of raising an error.

    Returns:
        int: the opset of the model written.

    Raises:
        DeployError: paddle2onnx is not installed, or the conversion failed.
    """
    try:
        import paddle2onnx
    except ImportError:
        raise DeployError("--onnx needs paddle2onnx: " + DEPLOY_EXTRA_HINT) from None
    except ValueError as e:  # paddle2onnx 2.x refuses Paddle 2.6 when imported
        raise DeployError("paddle2onnx cannot work with Paddle {}: {} (with Paddle 2.6 install "
                          "paddle2onnx==1.3.1, see docs/deploy.md)".format(
                              paddle.__version__, e)) from None
    options = {}
    if "optimize_tool" in inspect.signature(paddle2onnx.export).parameters:
        options["optimize_tool"] = "None"   # paddle2onnx 2.x; 1.x has no such pass
    tmp = onnx_file + ".tmp"
    try:
        paddle2onnx.export(program_file, params_file, save_file=tmp, opset_version=int(opset),
                           auto_upgrade_opset=True, enable_onnx_checker=True, **options)
    except Exception as e:  # paddle2onnx logs its error and fails later with anything
        raise DeployError("paddle2onnx could not convert {}: {}: {}".format(
            program_file, type(e).__name__, e)) from None
    if not os.path.isfile(tmp):
        raise DeployError("paddle2onnx could not convert {} (see its log above)".format(
            program_file))
    os.replace(tmp, onnx_file)
    return _onnx_opset(onnx_file)


def _onnx_opset(onnx_file):
    import onnx

    model = onnx.load(onnx_file, load_external_data=False)
    return max(int(entry.version) for entry in model.opset_import
               if entry.domain in ("", "ai.onnx"))


def _checkpoint_file(model_path):
    model_path = os.fspath(model_path)
    return os.path.join(model_path, "model.pdparams") if os.path.isdir(model_path) else model_path


def export_model(config, model_path, save_dir, input_shape=(-1, 3, -1, -1), onnx=False,
                 opset=DEFAULT_OPSET, opts=None, threshold=defaults.THRESHOLD,
                 nms_kernel=defaults.NMS_KERNEL, top_k=defaults.TOP_K):
    """Export ``config`` with the weights ``model_path`` into ``save_dir``.

    Args:
        config (str): model config; ``opts`` are its overrides (``key.sub=value``).
        model_path (str): trained weights (``.pdparams`` or a folder holding model.pdparams,
            or an ``http(s)`` URL downloaded once to the cache); they must fit the model
            exactly.
        input_shape (sequence[int]): ``[N, 3, H, W]``, -1 for a size known only at run time.
        onnx (bool): also write ``model.onnx`` (needs the ``deploy`` extra).
        opset (int): the lowest ONNX opset (see :func:`convert_to_onnx`).
        threshold, nms_kernel, top_k: post-processing settings recorded in ``deploy.yaml``.

    Returns:
        str: the path of the ``deploy.yaml`` written.

    Raises:
        FileNotFoundError, ValueError: missing config / weights, weights that do not fit the
            model (the load report), a bad ``input_shape``; nothing is written then.
        DeployError: the ONNX conversion failed (no ``deploy.yaml`` is written).
    """
    from paddleseg_panoptic.cvlibs.config import Config

    input_shape = check_input_shape(input_shape)
    model_path = resolve_model_path(model_path)
    cfg = Config(config, opts=opts)
    facts = DatasetFacts.from_config(cfg)
    transforms = list((cfg.dic.get("val_dataset") or {}).get("transforms") or [])
    paddle.set_device("cpu")
    model = cfg.build_model(load_pretrained=False)
    load_weights(model, model_path, strict=True)
    model.eval()

    os.makedirs(save_dir, exist_ok=True)
    # A failed export must not leave an older deploy.yaml describing newer files.
    stale = [deploy_info.DEPLOY_FILE, deploy_info.ONNX_FILE] + list(deploy_info.PROGRAM_FILES)
    for name in stale:
        if os.path.isfile(os.path.join(save_dir, name)):
            os.remove(os.path.join(save_dir, name))
    spec = [paddle.static.InputSpec([None if s == -1 else s for s in input_shape], "float32",
                                    name="image")]
    static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    prefix = os.path.join(save_dir, "model")
    paddle.jit.save(static, prefix, input_spec=spec)
    program = next((name for name in deploy_info.PROGRAM_FILES
                    if os.path.isfile(os.path.join(save_dir, name))), None)
    if program is None:
        raise DeployError("paddle.jit.save wrote none of {} in {}".format(
            list(deploy_info.PROGRAM_FILES), save_dir))
    files = {"program": program, "params": deploy_info.PARAMS_FILE}
    logger.info("Saved the Paddle inference model: {}".format(
        ", ".join(os.path.join(save_dir, f) for f in files.values())))
    onnx_opset = None
    if onnx:
        onnx_opset = convert_to_onnx(os.path.join(save_dir, program),
                                     os.path.join(save_dir, deploy_info.PARAMS_FILE),
                                     os.path.join(save_dir, deploy_info.ONNX_FILE), opset)
        files["onnx"] = deploy_info.ONNX_FILE
        logger.info("Saved the ONNX model (opset {}): {}".format(
            onnx_opset, os.path.join(save_dir, deploy_info.ONNX_FILE)))
    checkpoint = _checkpoint_file(model_path)
    path = deploy_info.write_deploy_info(
        save_dir, files=files, input_name="image", input_shape=input_shape,
        align_corners=getattr(model, "align_corners", True), num_classes=model.num_classes,
        transforms=transforms, size_divisor=SIZE_DIVISOR, facts=facts,
        postprocess={"threshold": float(threshold), "nms_kernel": int(nms_kernel),
                     "top_k": None if top_k is None else int(top_k)},
        source={"config": os.path.abspath(cfg.path), "config_content": cfg.dic,
                "checkpoint": os.path.abspath(checkpoint),
                "checkpoint_sha256": _sha256(checkpoint), "paddle": paddle.__version__,
                "onnx_opset": onnx_opset})
    logger.info("Wrote {}".format(path))
    return path
