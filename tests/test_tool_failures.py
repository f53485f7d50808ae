"""Clear one-line errors and warnings of tools/val.py, tools/predict.py and tools/train.py for
bad weights, data, folders and config values (real subprocesses with a timeout)."""
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddleseg_panoptic.cvlibs.builder import ConfigError
from paddleseg_panoptic.cvlibs.config import Config
from paddleseg_panoptic.utils import checkpoint as ckpt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "quick_start", "panoptic_deeplab_resnet18_os32_toy.yml")
SCRATCH = "No pretrained model to load"  # paddleseg's line for a backbone built without weights


def _run(tool, *args):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", tool), "--config",
                           CONFIG, "--device", "cpu", *args], env=env, text=True,
                          capture_output=True, timeout=180)


def _error_line(proc, tool):
    lines = [line for line in proc.stderr.splitlines() if line.startswith(tool + ": error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


def test_val_warns_about_nan_weights_and_stops_at_a_corrupt_image(toy_cityscapes_root,
                                                                  tmp_path):
    root = tmp_path / "toy"
    shutil.copytree(toy_cityscapes_root, str(root))
    bad = sorted(glob.glob(str(root / "leftImg8bit" / "val" / "*" / "*.png")))[-1]
    with open(bad, "wb") as f:
        f.write(b"\x89PNG but not really" * 50)
    model = Config(CONFIG).build_model(load_pretrained=False)
    state = model.state_dict()
    state["backbone.conv1_1._batch_norm._variance"].set_value(
        paddle.full(state["backbone.conv1_1._batch_norm._variance"].shape, float("nan")))
    weights = str(tmp_path / "model.pdparams")
    paddle.save(state, weights)

    proc = _run("val.py", "--model_path", weights, "--num_workers", "2", "--opts",
                "val_dataset.dataset_root=" + str(root),
                "val_dataset.transforms.0.target_size=[257,129]")
    assert proc.returncode == 2
    assert "1 of {} tensors of {} are not finite (NaN or inf), e.g. " \
           "backbone.conv1_1._batch_norm._variance".format(len(state), weights) in proc.stdout
    assert SCRATCH not in proc.stdout  # the weights come from --model_path
    line = _error_line(proc, "val.py")
    assert bad in line and "cannot decode image" in line


@pytest.mark.parametrize("tool", ["train.py", "predict.py", "val.py"])
def test_unusable_output_folder_fails_before_the_model_is_built(toy_cityscapes_root, tmp_path,
                                                                 tool):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    flag, args = {
        "train.py": ("--save_dir", ["--save_dir", str(a_file), "--opts",
                                    "train_dataset.dataset_root=" + toy_cityscapes_root]),
        "predict.py": ("--save_dir", ["--save_dir", str(a_file / "sub"), "--model_path",
                                      str(a_file), "--image_path", toy_cityscapes_root]),
        "val.py": ("--official", ["--official", str(a_file), "--model_path", str(a_file),
                                  "--opts", "val_dataset.dataset_root=" + toy_cityscapes_root]),
    }[tool]
    proc = _run(tool, *args)
    assert proc.returncode != 0
    line = _error_line(proc, tool)
    path = str(a_file / "sub") if tool == "predict.py" else str(a_file)
    assert "{} {} ".format(flag, path) in line
    assert SCRATCH not in proc.stdout  # no model was built


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_save_dir_is_refused(toy_cityscapes_root, tmp_path):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    proc = _run("train.py", "--save_dir", str(folder), "--opts",
                "train_dataset.dataset_root=" + toy_cityscapes_root)
    assert proc.returncode == 1
    assert "--save_dir {} cannot be written".format(folder) in _error_line(proc, "train.py")


def test_truncated_dataset_json_names_the_file(toy_cityscapes_root, tmp_path):
    root = tmp_path / "toy"
    shutil.copytree(toy_cityscapes_root, str(root))
    json_path = root / "gtFine" / "cityscapes_panoptic_train_trainId.json"
    json_path.write_text(json_path.read_text()[:100])
    proc = _run("train.py", "--save_dir", str(tmp_path / "out"), "--opts",
                "train_dataset.dataset_root=" + str(root))
    assert proc.returncode == 1
    assert str(json_path) in _error_line(proc, "train.py")


@pytest.mark.parametrize("opt, expected", [
    ("model.aspp_out_channels=abc",
     "`model.aspp_out_channels` of PanopticDeepLab must be a number (default 256), got 'abc'"),
    ("train_dataset.transforms.1.crop_size=abc", "`train_dataset.transforms.1.crop_size` of "
     "RandomPaddingCrop must be a list (default (512, 512)), got 'abc'"),
    ("model.backbone.output_stride=64",
     "`model.backbone.output_stride` must be one of 8, 16, 32, got 64"),
])
def test_override_of_the_wrong_type_names_key_and_expectation(toy_cityscapes_root, opt,
                                                              expected):
    cfg = Config(CONFIG, opts=[opt, "train_dataset.dataset_root=" + toy_cityscapes_root])
    with pytest.raises(ConfigError) as info:
        cfg.model if opt.startswith("model") else cfg.train_dataset
    assert str(info.value) == "{}: {}".format(cfg.path, expected)


def test_resume_model_accepts_the_weights_file(tmp_path):
    folder = tmp_path / "iter_3"
    folder.mkdir()
    for name in (ckpt.MODEL_FILE, ckpt.OPTIMIZER_FILE):
        (folder / name).write_bytes(b"x")
    assert ckpt.resolve_resume_dir(str(folder / ckpt.MODEL_FILE), str(tmp_path)) == str(folder)


def test_load_checkpoint_names_the_bad_file(tmp_path):
    model = paddle.nn.Linear(2, 2)
    optimizer = paddle.optimizer.Adam(parameters=model.parameters())
    path = ckpt.save_checkpoint(str(tmp_path), model, optimizer, {"iteration": 1})
    with open(os.path.join(path, ckpt.MODEL_FILE), "r+b") as f:
        f.truncate(20)
    with pytest.raises(ValueError, match="model.pdparams cannot be read, truncated"):
        ckpt.load_checkpoint(path, model, optimizer)
    model.weight.set_value(np.full((2, 2), np.inf, dtype="float32"))
    with pytest.raises(ValueError, match="refusing to write checkpoint iter_2: 1 of 2 tensors"):
        ckpt.save_checkpoint(str(tmp_path), model, optimizer, {"iteration": 2})
    assert not os.path.exists(os.path.join(str(tmp_path), "iter_2"))
