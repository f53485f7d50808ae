"""Export (tools/export.py) and prediction with the exported model (Predictor, predict.py
--model_dir): outputs equal to the dygraph model's, the same files as the dygraph path, and clear
errors for broken export folders.

Exports run in their own processes (as users run them): calling a dygraph model in a process
after ``paddle.jit.save`` has crashed Paddle 3.x. This process only builds dygraph models.
"""
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest
import yaml

from paddleseg_panoptic.core import predict as P
from paddleseg_panoptic.cvlibs.config import Config
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.deploy import DeployError, Predictor, read_deploy_info
from paddleseg_panoptic.deploy.export import convert_to_onnx, export_model
from paddleseg_panoptic.utils.image_list import list_images
from predict_toys import biased_model

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "configs" / "quick_start" / "panoptic_deeplab_resnet18_os32_toy.yml"
REALTIME = (REPO / "configs" / "panoptic_deeplab"
            / "panoptic_deeplab_mobilenetv3_large_os32_cityscapes_1025x513_bs8_90k_lr00005.yml")
STUFF_AREA = 150
# (H, W) of the prediction images: odd, even, wide.
SIZES = {"a.png": (40, 70), "sub/b.jpg": (100, 64), "c.png": (17, 130)}
# Network input sizes (already padded: k * 32 + 1) of the parity checks, from one export.
PARITY_SIZES = ((65, 97), (97, 161))
TIMEOUT = 300
HAS_GPU = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def _onnx_problem():
    """Why this environment cannot export to / run ONNX, or None."""
    if importlib.util.find_spec("onnxruntime") is None:
        return 'onnxruntime is not installed: pip install -e ".[deploy]"'
    try:
        import paddle2onnx  # noqa: F401
    except ImportError:
        return 'paddle2onnx is not installed: pip install -e ".[deploy]"'
    except ValueError as e:   # paddle2onnx 2.x refuses Paddle 2.6 at import
        return ("the installed paddle2onnx does not work with Paddle {} (with Paddle 2.6 "
                "install paddle2onnx==1.3.1): {}".format(paddle.__version__, e))
    return None


ONNX_PROBLEM = _onnx_problem()
needs_onnx = pytest.mark.skipif(ONNX_PROBLEM is not None, reason=str(ONNX_PROBLEM))
CPU_BACKENDS = ["paddle"] if ONNX_PROBLEM else ["onnxruntime", "paddle"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _packages():
    return sorted((d.metadata["Name"], d.version) for d in importlib.metadata.distributions())


def _export_command(config, weights, save_dir):
    return [sys.executable, str(REPO / "tools" / "export.py"), "--config", str(config),
            "--model_path", str(weights), "--save_dir", str(save_dir)] + (
                [] if ONNX_PROBLEM else ["--onnx"])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The toy and the real-time model, their weights and their exports (made at once, each
    in its own process), and a few images."""
    root = tmp_path_factory.mktemp("deploy")
    rng = np.random.RandomState(0)
    for name, (h, w) in SIZES.items():
        (root / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        noise = cv2.GaussianBlur(rng.randint(0, 256, (h, w, 3)).astype("uint8"), (0, 0), 3)
        assert cv2.imwrite(str(root / "images" / name), noise)
    configs = {
        "toy": "_base_: {}\nval_dataset:\n  stuff_area: {}\n".format(TOY.as_posix(), STUFF_AREA),
        "realtime": "_base_: {}\nmodel:\n  backbone:\n    pretrained: null\n".format(
            REALTIME.as_posix()),
    }
    models, jobs = {}, {}
    before = _packages()
    for name, text in configs.items():
        config = root / (name + ".yml")
        config.write_text(text)
        cfg = Config(str(config))
        model = biased_model(cfg)
        weights = root / (name + ".pdparams")
        paddle.save(model.state_dict(), str(weights))
        models[name] = {"cfg": cfg, "model": model, "config": config, "weights": weights,
                        "export": root / ("export_" + name)}
        jobs[name] = subprocess.Popen(
            _export_command(config, weights, models[name]["export"]), cwd=str(root),
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for name, job in jobs.items():
        out, _ = job.communicate(timeout=TIMEOUT)
        assert job.returncode == 0, out
    return {"root": root, "images": root / "images", "models": models,
            "packages": (before, _packages())}


def _dygraph(model, x):
    with paddle.no_grad():
        return [o.numpy() for o in model(paddle.to_tensor(x))]


def _assert_close(outputs, reference):
    assert len(outputs) == 3
    for out, ref in zip(outputs, reference):
        assert out.shape == ref.shape
        scale = max(1.0, float(np.abs(ref).max()))
        assert float(np.abs(out - ref).max()) <= 1e-4 * scale


# ---------------------------------------------------------------------------- export
def test_export_writes_the_models_and_everything_needed_without_the_config(work):
    toy = work["models"]["toy"]
    files = sorted(os.listdir(toy["export"]))
    # Paddle 3.x writes model.json, Paddle 2.6 model.pdmodel (and model.pdiparams.info).
    program = "model.json" if "model.json" in files else "model.pdmodel"
    expected = {"program": program, "params": "model.pdiparams"}
    if not ONNX_PROBLEM:
        expected["onnx"] = "model.onnx"
    assert set(expected.values()) | {"deploy.yaml"} <= set(files)
    info = read_deploy_info(toy["export"])
    assert info.files == expected
    assert info.input_shape == [-1, 3, -1, -1] and info.num_classes == 19
    assert info.align_corners is True and info.size_divisor == P.SIZE_DIVISOR
    assert info.facts.stuff_area == STUFF_AREA and info.facts.thing_list == tuple(range(11, 19))
    assert info.postprocess == {"threshold": 0.1, "nms_kernel": 7, "top_k": 200}
    assert [t["type"] for t in info.transforms] == ["Padding", "Normalize"]
    digest = hashlib.sha256(Path(toy["weights"]).read_bytes()).hexdigest()
    assert info.source["checkpoint_sha256"] == digest
    assert info.source["config_content"]["val_dataset"]["stuff_area"] == STUFF_AREA
    if not ONNX_PROBLEM:
        assert info.source["onnx_opset"] >= 13   # --opset's default, raised where needed


def test_export_installs_nothing(work):
    before, after = work["packages"]
    assert after == before


def test_weights_that_do_not_fit_the_config_are_reported_and_nothing_is_written(work, tmp_path):
    toy = work["models"]["toy"]
    state = paddle.load(str(toy["weights"]))
    del state["head.semantic_head.classifier.0.1.bias"]
    state["backbone.conv1_1._conv.weight"] = paddle.zeros([8, 3, 3, 3])
    bad = tmp_path / "bad.pdparams"
    paddle.save(state, str(bad))
    with pytest.raises(ValueError) as err:
        export_model(str(toy["config"]), str(bad), str(tmp_path / "out"))
    message = str(err.value)
    assert "does not match" in message and "head.semantic_head.classifier.0.1.bias" in message
    assert "backbone.conv1_1._conv.weight" in message
    assert not (tmp_path / "out").exists()


def test_onnx_without_paddle2onnx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "paddle2onnx", None)  # import fails as if not installed
    with pytest.raises(DeployError, match=r"deploy.*requirements-deploy.txt"):
        convert_to_onnx("model.json", "model.pdiparams", str(tmp_path / "model.onnx"))


def test_bad_input_shape_is_refused(work, tmp_path):
    toy = work["models"]["toy"]
    with pytest.raises(ValueError, match="input_shape"):
        export_model(str(toy["config"]), str(toy["weights"]), str(tmp_path / "out"),
                     input_shape=(1, 4, -1, -1))
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- parity
@pytest.mark.parametrize("backend", [pytest.param("onnxruntime", marks=needs_onnx), "paddle"])
def test_exported_outputs_equal_the_dygraph_model_at_two_sizes(work, backend):
    toy = work["models"]["toy"]
    predictor = Predictor(toy["export"], backend=backend, threads=1)
    assert predictor.backend == backend
    rng = np.random.RandomState(1)
    for height, width in PARITY_SIZES:
        x = rng.uniform(-1, 1, (1, 3, height, width)).astype("float32")
        _assert_close(predictor.run(x), _dygraph(toy["model"], x))


def test_realtime_config_runs_through_every_cpu_backend(work):
    realtime = work["models"]["realtime"]
    assert type(realtime["model"].backbone).__name__ == "MobileNetV3"
    x = np.random.RandomState(2).uniform(-1, 1, (1, 3, 97, 129)).astype("float32")
    reference = _dygraph(realtime["model"], x)
    for backend in CPU_BACKENDS:
        _assert_close(Predictor(realtime["export"], backend=backend).run(x), reference)


def test_predictor_gives_the_dygraph_result_dict(work):
    toy = work["models"]["toy"]
    predictor = Predictor(toy["export"])
    assert predictor.backend == CPU_BACKENDS[0]   # auto: the fastest one here
    cfg = toy["cfg"]
    transforms = P.prediction_transforms(cfg.val_transforms)
    facts = DatasetFacts.from_config(cfg)
    image = cv2.imread(str(work["images"] / "a.png"))
    expected = P.predict_image(toy["model"], image, transforms, facts)
    result = predictor(image)
    assert sorted(result) == sorted(expected)
    assert len(np.unique(result["panoptic"])) > 3   # stuff and instances, not a blank map
    for key in ("semantic", "instance", "panoptic"):
        np.testing.assert_array_equal(result[key], expected[key])
    np.testing.assert_allclose(result["semantic_softmax"], expected["semantic_softmax"],
                               atol=1e-5)


def test_test_time_augmentation_runs_the_exported_network_like_the_dygraph_one(work):
    from paddleseg_panoptic.core.tta import TTA

    toy = work["models"]["toy"]
    predictor = Predictor(toy["export"], backend="paddle")
    cfg = toy["cfg"]
    tta = TTA(scales=(0.75, 1.0), flip_horizontal=True)
    image = cv2.imread(str(work["images"] / "sub" / "b.jpg"))
    expected = P.predict_image(toy["model"], image, P.prediction_transforms(cfg.val_transforms),
                               DatasetFacts.from_config(cfg), tta=tta)
    result = P.predict_image(predictor, image, predictor.transforms, predictor.facts, tta=tta)
    np.testing.assert_allclose(result["semantic_softmax"], expected["semantic_softmax"],
                               atol=1e-5)
    assert np.mean(result["panoptic"] == expected["panoptic"]) >= 0.999


def _tree(root):
    return {str(p.relative_to(root)): p for p in sorted(Path(root).rglob("*")) if p.is_file()}


def _assert_same_outputs(ours, theirs):
    """Panoptic ids (and every picture) equal on >= 99.9 % of the pixels; the segments JSON
    equal where the ids are all equal."""
    assert sorted(ours) == sorted(theirs)
    for rel, path in ours.items():
        if rel.endswith(".png"):
            a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(str(theirs[rel]), cv2.IMREAD_UNCHANGED)
            assert a.shape == b.shape and np.all(a == b, axis=-1).mean() >= 0.999, rel
    for rel, path in ours.items():
        if rel.endswith(".json"):
            ids = "panoptic_ids" + rel[len("segments"):-len(".json")] + ".png"
            if (cv2.imread(str(ours[ids])) == cv2.imread(str(theirs[ids]))).all():
                assert json.loads(path.read_text()) == json.loads(theirs[rel].read_text()), rel


def test_predict_tool_with_model_dir_writes_the_dygraph_files(work):
    toy = work["models"]["toy"]
    deployed = work["root"] / "pred_deployed"
    run = subprocess.run(
        [sys.executable, str(REPO / "tools" / "predict.py"), "--model_dir", str(toy["export"]),
         "--image_path", str(work["images"]), "--save_dir", str(deployed)],
        cwd=str(work["root"]), env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr
    assert "backend {}".format(CPU_BACKENDS[0]) in run.stdout + run.stderr
    dygraph = work["root"] / "pred_dygraph"
    items = list_images(str(work["images"]))
    cfg = toy["cfg"]
    P.predict(toy["model"], items, str(dygraph), P.prediction_transforms(cfg.val_transforms),
              DatasetFacts.from_config(cfg), progress=False)
    ours, theirs = _tree(deployed), _tree(dygraph)
    assert sorted(ours) == sorted(theirs) and len(ours) == 10 * len(SIZES)
    _assert_same_outputs(ours, theirs)
    # The paddle backend, in this process, writes the same files.
    paddle_dir = work["root"] / "pred_paddle"
    assert P.run_deployed_prediction(str(toy["export"]), str(work["images"]), str(paddle_dir),
                                     backend="paddle", device="cpu", progress=False) == []
    _assert_same_outputs(_tree(paddle_dir), theirs)


def test_predict_tool_takes_postprocess_defaults_from_the_export(work, tmp_path, load_tool):
    toy = work["models"]["toy"]
    export = tmp_path / "export"
    _link_export(toy["export"], export)
    info = yaml.safe_load((toy["export"] / "deploy.yaml").read_text())
    info["postprocess"] = {"threshold": 0.3, "nms_kernel": 5, "top_k": None}
    (export / "deploy.yaml").write_text(yaml.safe_dump(info))
    tool = load_tool("predict")
    args = tool.parse_args(["--model_dir", str(export), "--image_path", "x"])
    assert (args.threshold, args.nms_kernel, args.top_k) == (0.3, 5, 0)
    args = tool.parse_args(["--model_dir", str(export), "--image_path", "x", "--nms_kernel", "3"])
    assert args.nms_kernel == 3
    with pytest.raises(SystemExit):
        tool.parse_args(["--model_dir", str(export), "--config", str(TOY), "--image_path", "x"])
    with pytest.raises(SystemExit):
        tool.parse_args(["--image_path", "x"])
    with pytest.raises(SystemExit):   # exported models predict images, not videos
        tool.parse_args(["--model_dir", str(export), "--video", "clip.mp4"])


# ---------------------------------------------------------------------------- bad folders
def _link_export(source, target, skip=()):
    """A copy of an export folder made of links (the weights are large)."""
    target.mkdir()
    for path in Path(source).iterdir():
        if path.name not in skip:
            if path.name == "deploy.yaml":
                shutil.copy(str(path), str(target / path.name))
            else:
                os.symlink(str(path), str(target / path.name))


def test_missing_model_file_is_named(work, tmp_path):
    broken = tmp_path / "broken"
    _link_export(work["models"]["toy"]["export"], broken, skip=("model.pdiparams",))
    with pytest.raises(DeployError, match=r"params file .*model\.pdiparams.* is missing"):
        Predictor(broken)


def test_missing_or_newer_deploy_yaml_is_refused(work, tmp_path):
    missing = tmp_path / "missing"
    _link_export(work["models"]["toy"]["export"], missing, skip=("deploy.yaml",))
    with pytest.raises(DeployError, match=r"deploy\.yaml not found.*tools/export\.py"):
        Predictor(missing)
    newer = tmp_path / "newer"
    _link_export(work["models"]["toy"]["export"], newer)
    text = (newer / "deploy.yaml").read_text().replace("format_version: 1", "format_version: 2")
    (newer / "deploy.yaml").write_text(text)
    with pytest.raises(DeployError, match="format_version 2, newer than"):
        Predictor(newer)


@needs_onnx
def test_auto_falls_back_to_paddle_without_onnx(work, tmp_path):
    export = tmp_path / "no_onnx"
    _link_export(work["models"]["toy"]["export"], export, skip=("model.onnx",))
    info = yaml.safe_load((export / "deploy.yaml").read_text())
    del info["model"]["files"]["onnx"]
    (export / "deploy.yaml").write_text(yaml.safe_dump(info))
    assert Predictor(export).backend == "paddle"
    with pytest.raises(DeployError, match="export with --onnx"):
        Predictor(export, backend="onnxruntime")


def test_without_onnxruntime_the_message_names_the_extra(work, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(DeployError, match=r'onnxruntime.*pip install -e "\.\[deploy\]"'):
        Predictor(work["models"]["toy"]["export"], backend="onnxruntime")


@pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA build of Paddle and an NVIDIA GPU "
                                        "(this machine has none)")
@pytest.mark.parametrize("backend", ["onnxruntime", "paddle", "paddle_tensorrt"])
def test_gpu_backends(work, backend):
    toy = work["models"]["toy"]
    try:
        predictor = Predictor(toy["export"], backend=backend, device="gpu")
    except DeployError as e:    # onnxruntime-gpu or a TensorRT build of Paddle not installed
        pytest.skip(str(e))
    x = np.random.RandomState(3).uniform(-1, 1, (1, 3, 65, 97)).astype("float32")
    _assert_close(predictor.run(x), _dygraph(toy["model"], x))
