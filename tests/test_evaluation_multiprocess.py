"""Two processes (paddle.distributed.launch, CPU) give the single-process numbers; tools/val.py
on the toy Cityscapes set and its error messages."""
import json
import math
import os
import subprocess
import sys

import paddle
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
TOY_CONFIG = os.path.join(ROOT, "configs", "quick_start", "panoptic_deeplab_resnet18_os32_toy.yml")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, TESTS)

import evaluation_launch_run  # noqa: E402
import val  # noqa: E402


def launch(args, tmp_path):
    """Run ``args`` under paddle.distributed.launch with two CPU processes."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--log_dir",
           str(tmp_path / "launch_log"), "--nproc_per_node", "2"] + args
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=240)
    logs = "".join(open(os.path.join(tmp_path, "launch_log", f)).read()
                   for f in sorted(os.listdir(tmp_path / "launch_log")) if "workerlog" in f)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:] + logs[-3000:]
    return logs


def assert_same_numbers(a, b, path="results"):
    """Recursive equality, floats to 1e-9."""
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for key in a:
            assert_same_numbers(a[key], b[key], "{}.{}".format(path, key))
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=0, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_two_processes_equal_one_on_the_tiny_dataset(tmp_path):
    script = os.path.join(TESTS, "evaluation_launch_run.py")
    one = tmp_path / "one.json"
    evaluation_launch_run.main(str(one))     # the single-process run, in this process
    launch([script, str(tmp_path / "two.json")], tmp_path)
    single, double = (json.load(open(p)) for p in (one, tmp_path / "two.json"))
    assert (single.pop("world_size"), double.pop("world_size")) == (1, 2)
    assert single["num_images"] == 5 and 0.1 < single["pan_seg"]["All"]["pq"] < 0.9
    assert single["ins_seg"]["mAP"] > 0
    assert_same_numbers(single, double)


@pytest.fixture(scope="module")
def toy_weights(toy_cityscapes_root, tmp_path_factory):
    from paddleseg_panoptic.cvlibs.config import Config

    cfg = Config(TOY_CONFIG, opts=["val_dataset.dataset_root=" + toy_cityscapes_root])
    paddle.seed(0)
    model = cfg.build_model(load_pretrained=False)
    path = str(tmp_path_factory.mktemp("toy_weights") / "model.pdparams")
    paddle.save(model.state_dict(), path)
    return path


def val_args(root, weights, *extra):
    return ["--config", TOY_CONFIG, "--model_path", weights, "--device", "cpu",
            "--opts", "val_dataset.dataset_root=" + root] + list(extra)


def test_val_py_two_processes_equal_one(toy_cityscapes_root, toy_weights, tmp_path, capsys):
    # Both runs also write and run the official evaluators (each process adds its images).
    assert val.main(val_args(toy_cityscapes_root, toy_weights, "--save_json",
                             str(tmp_path / "one.json"), "--official",
                             str(tmp_path / "official_one"))) == 0
    out = capsys.readouterr().out
    assert "Results written to" in out and "Ours vs cityscapesScripts" in out
    logs = launch([os.path.join(ROOT, "tools", "val.py")] + val_args(
        toy_cityscapes_root, toy_weights, "--save_json", str(tmp_path / "two.json"),
        "--official", str(tmp_path / "official_two")), tmp_path)
    assert "PQ: " in logs and "mIoU: " in logs
    single, double = (json.load(open(tmp_path / n)) for n in ("one.json", "two.json"))
    for results in (single, double):
        results.pop("seconds")
        for key in ("seconds", "files"):
            results["official"].pop(key)
    assert single["num_images"] == 2
    assert set(single) >= {"sem_seg", "pan_seg", "ins_seg", "official"}
    assert 0.0 < single["sem_seg"]["mIoU"] <= 100.0
    assert_same_numbers(single, double)
    # Our mIoU and PQ agree with cityscapesScripts' on the same predictions.
    official = single["official"]
    assert math.isclose(single["sem_seg"]["mIoU"], official["mIoU"], abs_tol=1e-6)
    assert math.isclose(single["pan_seg"]["All"]["pq"], official["PQ"], abs_tol=1e-6)


def test_val_py_missing_model_path(toy_cityscapes_root, tmp_path, capsys):
    with pytest.raises(SystemExit):
        val.main(val_args(toy_cityscapes_root, str(tmp_path / "nope.pdparams")))
    err = capsys.readouterr().err
    assert "--model_path" in err and "nope.pdparams does not exist" in err


def test_val_py_model_path_not_matching(toy_cityscapes_root, toy_weights, tmp_path, capsys):
    state = paddle.load(toy_weights)
    key = next(k for k in state if k.endswith("weight") and len(state[k].shape) == 4)
    state[key] = paddle.zeros([1] + list(state[key].shape[1:]))
    broken = str(tmp_path / "broken.pdparams")
    paddle.save(state, broken)
    assert val.main(val_args(toy_cityscapes_root, broken)) == 2
    err = capsys.readouterr().err
    assert "does not match the model" in err and key in err
    other = str(tmp_path / "other.pdparams")
    paddle.save(paddle.nn.Linear(2, 2).state_dict(), other)
    assert val.main(val_args(toy_cityscapes_root, other)) == 2
    assert "matches no parameter" in capsys.readouterr().err


def test_val_py_config_without_val_dataset(toy_weights, tmp_path, capsys):
    config = tmp_path / "no_val.yml"
    config.write_text("_base_: {}\nval_dataset: null\n".format(TOY_CONFIG))
    argv = ["--config", str(config), "--model_path", toy_weights, "--device", "cpu"]
    assert val.main(argv) == 2
    assert "has no val_dataset" in capsys.readouterr().err


def test_val_py_dataset_without_val_split(toy_cityscapes_root, toy_weights, tmp_path, capsys):
    import shutil

    root = tmp_path / "no_val_split"
    shutil.copytree(toy_cityscapes_root, root)
    os.remove(root / "gtFine" / "cityscapes_panoptic_val_trainId.json")
    assert val.main(val_args(str(root), toy_weights)) == 2
    err = capsys.readouterr().err
    assert "val.py: error:" in err and "cityscapes_panoptic_val_trainId.json" in err


def test_val_py_tta_from_the_config_and_instance_score(toy_cityscapes_root, toy_weights,
                                                       tmp_path, capsys):
    from paddleseg_panoptic.utils import cli

    args = val.parse_args(val_args(toy_cityscapes_root, toy_weights, "--aug_eval", "--scales",
                                   "0.75", "1.0", "--flip_horizontal"))
    assert cli.inference_kwargs(args, "--aug_eval") == {
        "aug_eval": True, "scales": [0.75, 1.0], "flip_horizontal": True,
        "instance_score": "semantic"}
    config = tmp_path / "tta.yml"
    config.write_text("_base_: {}\ntest_config:\n  aug_eval: true\n  flip_horizontal: true\n"
                      .format(TOY_CONFIG))
    argv = val_args(toy_cityscapes_root, toy_weights, "--save_json", str(tmp_path / "r.json"),
                    "--instance_score", "semantic_x_center")
    argv[argv.index("--config") + 1] = str(config)
    assert val.main(argv) == 0
    results = json.load(open(tmp_path / "r.json"))
    assert results["tta"] == {"scales": [1.0], "flip_horizontal": True}
    assert results["instance_score"] == "semantic_x_center"
    assert results["num_images"] == 2
    config.write_text("_base_: {}\ntest_config:\n  is_slide: true\n".format(TOY_CONFIG))
    assert val.main(argv) == 2
    assert "test_config.is_slide is not supported" in capsys.readouterr().err
