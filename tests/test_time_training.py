"""tools/time_training.py: planning a run from the timed first iterations."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "time_training.py")
CONFIG = os.path.join(REPO, "configs", "quick_start", "panoptic_deeplab_resnet18_os32_toy.yml")
sys.path.insert(0, os.path.join(REPO, "tools"))
from time_training import parse_args  # noqa: E402

from paddleseg_panoptic.core.train_plan import plan_iters  # noqa: E402


def _run(*args):
    return subprocess.run([sys.executable, TOOL, "--config", CONFIG, "--device", "cpu", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_plan_iters():
    assert plan_iters(2.0, 500) == 500  # no budget: what was asked
    assert plan_iters(2.0, 500, budget_minutes=10) == 300  # 600 s / 2 s
    assert plan_iters(2.0, 100, budget_minutes=10) == 100  # never more than asked
    assert plan_iters(2.5, 500, budget_minutes=0.01) == 1  # at least one


def test_tool_times_a_probe_and_writes_the_plan(toy_cityscapes_root, tmp_path):
    plan = tmp_path / "iters.txt"
    proc = _run("--iters", "50", "--time_budget", "0.0001", "--probe_iters", "2",
                "--iters_file", str(plan), "--opts",
                "train_dataset.dataset_root=" + toy_cityscapes_root,
                "train_dataset.transforms.1.crop_size=[65,33]", "batch_size=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Timed 1 iterations:" in proc.stdout
    assert "50 iterations would take about" in proc.stdout
    assert "Planned: 1 iterations" in proc.stdout
    assert plan.read_text() == "1\n"


def test_two_processes_plan_once(toy_cityscapes_root, tmp_path):
    # As scripts/demo.sh plans a run of one process per core: every process trains the
    # probe, the first one alone prints and writes the plan.
    plan = tmp_path / "iters.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
         "--log_dir", str(tmp_path / "launch"), TOOL, "--config", CONFIG, "--device", "cpu",
         "--iters", "50", "--time_budget", "0.0001", "--probe_iters", "2",
         "--iters_file", str(plan), "--opts", "train_dataset.dataset_root=" + toy_cityscapes_root,
         "train_dataset.transforms.1.crop_size=[65,33]", "batch_size=1"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert plan.read_text() == "1\n"
    logs = [(tmp_path / "launch" / "workerlog.{}".format(r)).read_text() for r in (0, 1)]
    assert "batch size 1 x 2 process(es)" in logs[0]
    assert logs[0].count("Planned: 1 iterations") == 1 and "Planned:" not in logs[1]


@pytest.mark.parametrize("args, message", [
    (["--probe_iters", "1"], "--probe_iters must be at least 2"),
    (["--time_budget", "0"], "--time_budget must be positive"),
    (["--iters", "-3"], "--iters must be positive"),
])
def test_bad_arguments_are_refused_before_training(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--config", CONFIG] + args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_demo_script_documents_and_checks_its_arguments():
    demo = os.path.join(REPO, "scripts", "demo.sh")
    usage = subprocess.run(["bash", demo, "--help"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0
    assert "--time_budget MIN" in usage.stdout and "DEMO_TIME_BUDGET" in usage.stdout
    bad = subprocess.run(["bash", demo, "--budget", "3"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "unknown argument --budget" in bad.stderr
    assert "--style hard|easy" in usage.stdout and "--nproc P" in usage.stdout
    style = subprocess.run(["bash", demo, "--style", "medium"], capture_output=True, text=True,
                           timeout=60)
    assert style.returncode == 2 and "--style must be hard or easy, got medium" in style.stderr
    nproc = subprocess.run(["bash", demo, "--nproc", "3"], capture_output=True, text=True,
                           timeout=60)
    assert nproc.returncode == 2 and "--nproc must be 1, 2, 4 or 8" in nproc.stderr
