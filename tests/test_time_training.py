"""Planning training by time: ``tools/train.py --time_budget`` (the run re-plans itself) and
``tools/time_training.py`` (a probe of the first iterations)."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "time_training.py")
CONFIG = os.path.join(REPO, "configs", "quick_start", "panoptic_deeplab_resnet18_os32_toy.yml")
sys.path.insert(0, os.path.join(REPO, "tools"))
from time_training import parse_args  # noqa: E402

from paddleseg_panoptic.core.train_plan import (TimeBudget, plan_iters,  # noqa: E402
                                                set_schedule_length)
from paddleseg_panoptic.cvlibs.config import Config  # noqa: E402

DEMO_CONFIG = os.path.join(REPO, "configs", "quick_start",
                           "panoptic_deeplab_mobilenetv3_os32_demo.yml")
TRAIN_TOOL = os.path.join(REPO, "tools", "train.py")


def _run(*args):
    return subprocess.run([sys.executable, TOOL, "--config", CONFIG, "--device", "cpu", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_plan_iters():
    assert plan_iters(2.0, 500) == 500  # no budget: what was asked
    assert plan_iters(2.0, 500, budget_minutes=10) == 300  # 600 s / 2 s
    assert plan_iters(2.0, 100, budget_minutes=10) == 100  # never more than asked
    assert plan_iters(2.5, 500, budget_minutes=0.01) == 1  # at least one


class _Clock:
    """Seconds set by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_time_budget_plans_from_the_mean_time_of_an_iteration():
    clock = _Clock()
    budget = TimeBudget(1.0, max_iters=100, every=5, clock=clock)
    clock.now += 4.0  # the first iteration (start-up) takes 4 s and is not timed
    assert not budget.update(1) and budget.planned == 100
    for iteration in range(2, 6):  # then 1 s each
        clock.now += 1.0
        assert not budget.update(iteration)
    clock.now += 1.0
    assert budget.update(6)  # 5 timed iterations: a plan
    # 9 s of 60 spent, 1 s per iteration: 51 more.
    assert budget.seconds_per_iter == 1.0 and budget.planned == 57 and budget.plans == 1
    for iteration in range(7, 12):  # the machine slows down: 3 s each
        clock.now += 3.0
        budget.update(iteration)
    # 24 s spent, 2 s per iteration over the 10 timed ones: 18 more.
    assert budget.seconds_per_iter == 2.0 and budget.planned == 11 + 18 and budget.plans == 2
    clock.now += 100.0
    for iteration in range(12, 17):
        budget.update(iteration)
    assert budget.planned == 16  # the time is spent: stop now
    fast = TimeBudget(10.0, max_iters=20, start_iter=50, every=1, clock=clock)
    clock.now += 1.0
    fast.update(51)
    clock.now += 0.5
    assert fast.update(52) and fast.planned == 20  # never more than max_iters
    with pytest.raises(ValueError, match="must be positive"):
        TimeBudget(0, max_iters=10)


@pytest.mark.parametrize("config", [CONFIG, DEMO_CONFIG])  # without / with warm-up
def test_a_shortened_schedule_equals_one_built_for_that_length(config):
    planned = Config(config, iters=60).lr_scheduler
    shortened = Config(config, iters=100).lr_scheduler
    rates = []
    for iteration in range(60):
        if iteration == 30:
            set_schedule_length(shortened, 60)
        rates.append((shortened(), planned()))
        shortened.step()
        planned.step()
    assert [a for a, _ in rates[30:]] == [b for _, b in rates[30:]]
    assert rates[29][0] > rates[29][1]  # before: the 100-iteration schedule
    assert rates[-1][0] > 0 and shortened() == 0.0  # the decay ends at iteration 60


def test_two_processes_stop_together_when_the_time_budget_is_spent(toy_cityscapes_root,
                                                                   tmp_path):
    save_dir = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
         "--log_dir", str(tmp_path / "launch"), TRAIN_TOOL, "--config", CONFIG, "--device",
         "cpu", "--iters", "40", "--time_budget", "0.0001", "--batch_size", "1",
         "--save_interval", "100", "--log_iters", "5", "--seed", "0", "--save_dir",
         str(save_dir), "--opts", "train_dataset.dataset_root=" + toy_cityscapes_root,
         "train_dataset.transforms.1.crop_size=[65,33]"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads((save_dir / "train_summary.json").read_text())
    # The first plan comes after 10 timed iterations; 0.006 s are spent by then.
    assert summary["iteration"] == 11 and summary["last_checkpoint"].endswith("iter_11")
    digests = summary["param_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]  # both stopped at iteration 11
    assert sorted(p for p in os.listdir(save_dir) if p.startswith("iter_")) == ["iter_11"]
    log = (save_dir / "train.log").read_text()
    assert "for 40 iterations at most (as many as fit in 0.0001 min)" in log
    assert "Time budget 0.0001 min:" in log and "planning 11 of 40 iterations" in log
    # Every 5th iteration and the last one (the plan: 11) are logged.
    assert "iter: 10/40," in log and "iter: 11/11," in log and "iter: 9/" not in log
    assert "Stopped at iteration 11 of 40: the time budget of 0.0001 min is spent" in log


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
    # A run of one process per core is planned by a probe started the same way: every
    # process trains the probe, the first one alone prints and writes the plan.
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
