"""tools/train.py end to end on the small CPU config and the toy dataset (subprocesses)."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "train.py")
CONFIG = os.path.join(REPO, "configs", "quick_start", "panoptic_deeplab_resnet18_os32_toy.yml")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _train_args(root, save_dir, *extra):
    # Tiny crops keep a step well under a second on CPU.
    return ["--config", CONFIG, "--device", "cpu", "--save_dir", str(save_dir), "--seed", "1",
            "--log_iters", "1", *extra, "--opts", "train_dataset.dataset_root=" + root,
            "val_dataset.dataset_root=" + root, "train_dataset.transforms.1.crop_size=[129,65]",
            "val_dataset.transforms.0.target_size=[257,129]"]


def _run(args, cwd, launch=None, check=True):
    prefix = [sys.executable]
    if launch:
        prefix += ["-m", "paddle.distributed.launch", "--nproc_per_node", str(launch),
                   "--log_dir", os.path.join(str(cwd), "launch_log")]
    proc = subprocess.run(prefix + [TOOL] + args, cwd=str(cwd), env=_env(), text=True,
                          capture_output=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError("train.py failed ({}):\n{}\n{}".format(
            proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def _weights(path):
    return {k: np.asarray(v) for k, v in paddle.load(str(path)).items()}


@pytest.fixture(scope="module")
def straight_run(toy_cityscapes_root, tmp_path_factory):
    """4 iterations of batch 2 (2 per epoch), a checkpoint every iteration, keep 3."""
    save_dir = tmp_path_factory.mktemp("straight") / "out"
    proc = _run(_train_args(toy_cityscapes_root, save_dir, "--iters", "4", "--batch_size", "2",
                            "--save_interval", "1", "--keep_checkpoint_max", "3", "--use_vdl"),
                cwd=save_dir.parent)
    return save_dir, proc


def test_single_process_run_writes_expected_files(straight_run):
    save_dir, proc = straight_run
    names = sorted(os.listdir(save_dir))
    assert [n for n in names if n.startswith("iter_")] == ["iter_2", "iter_3", "iter_4"]
    assert not any(n.startswith(".tmp") for n in names)
    assert {"config.yml", "environment.json", "train_summary.json"} <= set(names)
    assert any(n.startswith("vdlrecords.") for n in names)
    for it in (2, 3, 4):
        assert sorted(os.listdir(save_dir / "iter_{}".format(it))) == [
            "model.pdopt", "model.pdparams", "train_state.json"]
    with open(save_dir / "config.yml") as f:
        dumped = yaml.safe_load(f)
    # The dump is the resolved config: bases merged, command-line overrides applied.
    assert dumped["iters"] == 4 and dumped["batch_size"] == 2
    assert dumped["train_dataset"]["transforms"][1]["crop_size"] == [129, 65]
    assert dumped["loss"]["coef"] == [1, 200, 0.01]  # the toy config's own weights
    with open(save_dir / "environment.json") as f:
        env = json.load(f)
    assert env["seed"] == 1 and env["world_size"] == 1 and env["device"] == "cpu"
    assert env["paddle"] == paddle.__version__ and env["numpy"] == np.__version__
    lines = [l for l in proc.stdout.splitlines() if "[TRAIN]" in l]
    assert [l.split("iter: ")[1].split(",")[0] for l in lines] == ["1/4", "2/4", "3/4", "4/4"]
    with open(save_dir / "train_summary.json") as f:
        summary = json.load(f)
    assert summary["iteration"] == 4 and len(summary["param_digests"]) == 1


def test_visualdl_records_hold_the_loss_tags(straight_run):
    from visualdl import LogReader
    save_dir, _ = straight_run
    record = [n for n in os.listdir(save_dir) if n.startswith("vdlrecords.")][0]
    tags = LogReader(file_path=str(save_dir / record)).get_tags()["scalar"]
    assert {"Train/loss", "Train/loss_semantic", "Train/loss_center", "Train/loss_offset",
            "Train/lr"} <= set(tags)


def test_resume_from_the_middle_gives_the_same_final_weights(straight_run, toy_cityscapes_root,
                                                             tmp_path):
    save_dir, _ = straight_run
    resumed_dir = tmp_path / "resumed"
    proc = _run(_train_args(toy_cityscapes_root, resumed_dir, "--iters", "4", "--batch_size",
                            "2", "--save_interval", "2",
                            "--resume_model", str(save_dir / "iter_2")), cwd=tmp_path)
    assert "Resumed from {} at iteration 2".format(save_dir / "iter_2") in proc.stdout
    straight = _weights(save_dir / "iter_4" / "model.pdparams")
    resumed = _weights(resumed_dir / "iter_4" / "model.pdparams")
    assert straight.keys() == resumed.keys()
    for key in straight:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)


def test_two_processes_keep_identical_parameters_and_only_rank0_writes(toy_cityscapes_root,
                                                                       tmp_path):
    save_dir = tmp_path / "out"
    _run(_train_args(toy_cityscapes_root, save_dir, "--iters", "2", "--batch_size", "1",
                     "--save_interval", "2"), cwd=tmp_path, launch=2)
    with open(save_dir / "train_summary.json") as f:
        summary = json.load(f)
    assert summary["world_size"] == 2 and summary["iteration"] == 2
    digests = summary["param_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert sorted(os.listdir(save_dir)) == ["config.yml", "environment.json", "iter_2",
                                            "metrics.jsonl", "train.log", "train_summary.json"]
    logs = tmp_path / "launch_log"
    with open(logs / "workerlog.0") as f:
        rank0 = f.read()
    with open(logs / "workerlog.1") as f:
        rank1 = f.read()
    # 4 images / global batch 2: iteration 2 closes the first epoch.
    assert "[TRAIN] epoch: 1, iter: 2/2" in rank0 and "Saved checkpoint" in rank0
    assert "[TRAIN]" not in rank1 and "Saved checkpoint" not in rank1


def test_dataset_smaller_than_a_batch_is_a_clear_error(toy_cityscapes_root, tmp_path):
    # The toy set has 4 training images.
    proc = _run(_train_args(toy_cityscapes_root, tmp_path / "out", "--iters", "2",
                            "--batch_size", "5"), cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "train.py: error: The training dataset has 4 samples, fewer than one global batch " \
           "of 5" in proc.stderr
    assert not os.path.isdir(tmp_path / "out" / "iter_2")


def test_help_lists_every_flag(capsys, load_tool):
    tool = load_tool("train")
    with pytest.raises(SystemExit) as info:
        tool.parse_args(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--config", "--iters", "--batch_size", "--learning_rate", "--save_interval",
                 "--resume_model", "--save_dir", "--keep_checkpoint_max", "--num_workers",
                 "--do_eval", "--log_iters", "--use_vdl", "--threshold", "--nms_kernel",
                 "--top_k", "--device", "--seed", "--opts", "--precision", "--amp_level",
                 "--use_ema", "--time_budget"):
        assert flag in out, flag
    args = tool.parse_args(["--config", "x.yml"])
    # the training defaults (docs/training.md); post-processing from postprocess/defaults.py.
    assert (args.save_interval, args.keep_checkpoint_max, args.num_workers, args.log_iters,
            args.save_dir) == (1000, 5, 0, 10, "./output")
    assert (args.threshold, args.nms_kernel, args.top_k) == (0.1, 7, 200)
    assert (args.device, args.seed, args.resume_model, args.do_eval) == ("auto", None, None,
                                                                         False)
    assert (args.precision, args.amp_level, args.use_ema) == ("fp32", "O1", False)
    assert args.time_budget is None
    with pytest.raises(SystemExit) as info:
        tool.parse_args(["--config", "x.yml", "--time_budget", "0"])
    assert info.value.code == 2
    assert "--time_budget must be positive, got 0.0" in capsys.readouterr().err


def test_do_eval_keeps_best_model_and_logs_metrics(toy_cityscapes_root, tmp_path):
    save_dir = tmp_path / "out"
    proc = _run(_train_args(toy_cityscapes_root, save_dir, "--iters", "2", "--batch_size", "2",
                            "--save_interval", "1", "--do_eval", "--use_vdl"), cwd=tmp_path)
    # Evaluation only once past half of the iterations: at iteration 2, not 1.
    evals = [l for l in proc.stdout.splitlines() if "[EVAL] iter:" in l]
    assert len(evals) == 1 and "[EVAL] iter: 2, PQ: " in evals[0]
    assert "mIoU: " in evals[0] and "mAP: " in evals[0]
    assert "The model with the best validation PQ" in proc.stdout
    assert sorted(os.listdir(save_dir / "best_model")) == ["best_model.json", "model.pdparams"]
    best = _weights(save_dir / "best_model" / "model.pdparams")
    last = _weights(save_dir / "iter_2" / "model.pdparams")
    for key in last:
        np.testing.assert_array_equal(best[key], last[key], err_msg=key)
    with open(save_dir / "best_model" / "best_model.json") as f:
        info = json.load(f)
    assert info["iteration"] == 2 and {"PQ", "SQ", "RQ", "mIoU", "mAP"} <= set(info)
    with open(save_dir / "iter_2" / "train_state.json") as f:
        assert json.load(f)["best"] == info  # a resumed run keeps comparing against it
    from visualdl import LogReader
    record = [n for n in os.listdir(save_dir) if n.startswith("vdlrecords.")][0]
    tags = LogReader(file_path=str(save_dir / record)).get_tags()["scalar"]
    assert {"Evaluate/PQ", "Evaluate/mIoU", "Evaluate/mAP"} <= set(tags)
    # train.log holds the launcher's lines around the loop's too.
    with open(save_dir / "train.log") as f:
        log = f.read()
    for line in ("Training {} for 2 iterations".format(CONFIG), "[EVAL] iter: 2, PQ: ",
                 "Training finished at iteration 2"):
        assert line in log, line


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="checks the CPU-only Paddle's refusal")
def test_mixed_precision_without_a_gpu_is_a_clear_error(toy_cityscapes_root, tmp_path):
    proc = _run(_train_args(toy_cityscapes_root, tmp_path / "out", "--iters", "2",
                            "--precision", "fp16"), cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "train.py: error: --precision fp16 needs a GPU" in proc.stderr
    assert not os.path.isdir(tmp_path / "out" / "iter_2")
