"""tools/train.py when things go wrong: a bad sample, diverging weights, signals, broken
checkpoints, a full disk, unusable folders (real subprocesses, each bounded by a timeout)."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import paddle
import pytest

from paddleseg_panoptic.core.train_data import SeededDistributedBatchSampler

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "train.py")
CONFIG = os.path.join(REPO, "configs", "quick_start", "panoptic_deeplab_resnet18_os32_toy.yml")
TIMEOUT = 180  # far above a normal run: only a hang reaches it


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _command(root, save_dir, *extra, opts=(), launch=None):
    prefix = [sys.executable]
    if launch:
        prefix += ["-m", "paddle.distributed.launch", "--nproc_per_node", str(launch),
                   "--log_dir", os.path.join(str(save_dir) + "_log")]
    return prefix + [TOOL, "--config", CONFIG, "--device", "cpu", "--save_dir", str(save_dir),
                     "--seed", "1", "--log_iters", "1", "--batch_size", "1", *extra,
                     "--opts", "train_dataset.dataset_root=" + str(root),
                     "train_dataset.transforms.1.crop_size=[65,33]", *opts]


def _run(cmd, **kwargs):
    return subprocess.run(cmd, env=_env(), text=True, capture_output=True, timeout=TIMEOUT,
                          **kwargs)


def _error_lines(stderr, tool="train.py"):
    return [line for line in stderr.splitlines() if line.startswith(tool + ":")]


def _finite(path):
    return all(np.isfinite(np.asarray(v)).all() for v in paddle.load(path).values()
               if np.asarray(v).dtype.kind == "f")


@pytest.fixture
def toy_copy(toy_cityscapes_root, tmp_path):
    root = tmp_path / "toy"
    shutil.copytree(toy_cityscapes_root, str(root))
    return root


def _train_images(root):
    return sorted(glob.glob(os.path.join(str(root), "leftImg8bit", "train", "*", "*.png")))


def test_corrupt_image_stops_with_one_line(toy_copy, tmp_path):
    bad = _train_images(toy_copy)[0]
    with open(bad, "wb") as f:
        f.write(np.random.RandomState(0).bytes(5000))
    proc = _run(_command(toy_copy, tmp_path / "out", "--iters", "4"))
    assert proc.returncode == 1
    (line,) = _error_lines(proc.stderr)
    assert "Cannot build a training sample of iteration" in line
    assert bad in line and "cannot decode image" in line
    assert "Traceback" not in proc.stderr


def test_bad_sample_of_the_second_process_reaches_the_console(toy_copy, tmp_path):
    # The first sample of process 1 (data order from the seed) gets a label of another size.
    from paddleseg_panoptic.datasets.cityscapes_panoptic import CityscapesPanoptic
    records = CityscapesPanoptic([], str(toy_copy), mode="train").records
    sampler = SeededDistributedBatchSampler(records, 1, seed=1, num_replicas=2, rank=1)
    index = next(iter(sampler))[0][0]
    label = records[index]["label_path"]
    cv2.imwrite(label, cv2.imread(label)[:-8])
    proc = _run(_command(toy_copy, tmp_path / "out", "--iters", "4", launch=2))
    assert proc.returncode != 0
    lines = _error_lines(proc.stdout + proc.stderr)
    assert lines and "process 1: image {}".format(records[index]["image_path"]) in lines[0]
    assert label in lines[0]
    assert "Timeout" not in proc.stdout + proc.stderr


def test_diverging_run_never_saves_nonfinite_weights(toy_cityscapes_root, tmp_path):
    save_dir = tmp_path / "out"
    proc = _run(_command(toy_cityscapes_root, save_dir, "--iters", "6", "--save_interval", "1",
                         "--keep_checkpoint_max", "0", opts=["learning_rate.value=1e6"]))
    assert proc.returncode == 1
    (line,) = _error_lines(proc.stderr)
    diverged = int(re.search(r"Iteration (\d+) made the weights diverge", line).group(1))
    saved = sorted(int(d.split("_")[-1]) for d in glob.glob(str(save_dir / "iter_*")))
    assert saved == list(range(1, diverged))
    for it in saved:
        assert _finite(str(save_dir / "iter_{}".format(it) / "model.pdparams"))
    if saved:
        assert "The last checkpoint, {}, holds finite weights".format(
            save_dir / "iter_{}".format(saved[-1])) in line
    else:
        assert "No checkpoint was written yet" in line
    assert "not finite (NaN or inf)" in line


def _wait_for(ready, proc, deadline=TIMEOUT):
    end = time.monotonic() + deadline
    while not ready():
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            raise AssertionError("the run never got there (exit {})".format(proc.poll()))
        time.sleep(0.2)


def _start(cmd, log_dir, preexec_fn=None):
    os.makedirs(str(log_dir), exist_ok=True)
    out = open(os.path.join(str(log_dir), "stdout"), "w")
    err = open(os.path.join(str(log_dir), "stderr"), "w")
    proc = subprocess.Popen(cmd, env=_env(), stdout=out, stderr=err, text=True,
                            preexec_fn=preexec_fn)
    proc.logs = (out, err)
    return proc


def _finish(proc):
    try:
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        for f in proc.logs:
            f.close()
    return [open(f.name).read() for f in proc.logs]


@pytest.fixture(scope="module")
def interrupted_run(toy_cityscapes_root, tmp_path_factory):
    """Ctrl-C (SIGINT) after the 3rd checkpoint of a 1000-iteration run."""
    work = tmp_path_factory.mktemp("sigint")
    save_dir = work / "out"
    proc = _start(_command(toy_cityscapes_root, save_dir, "--iters", "1000", "--save_interval",
                           "1", "--keep_checkpoint_max", "0"), work)
    _wait_for((save_dir / "iter_3").exists, proc)
    proc.send_signal(signal.SIGINT)
    out, err = _finish(proc)
    return save_dir, proc.returncode, out, err


def test_sigint_stops_with_one_line_and_no_leftovers(interrupted_run):
    save_dir, code, out, err = interrupted_run
    assert code == 130
    assert "Traceback" not in err
    (line,) = _error_lines(err)
    last = max(int(d.split("_")[-1]) for d in glob.glob(str(save_dir / "iter_*")))
    assert line.startswith("train.py: interrupted (SIGINT) at iteration ")
    assert line.endswith("; last complete checkpoint: {}; resume with --resume_model auto".format(
        save_dir / "iter_{}".format(last)))
    assert not glob.glob(str(save_dir / ".tmp-*"))


def test_resume_auto_skips_broken_checkpoints_and_a_full_disk_keeps_the_last(
        interrupted_run, toy_cityscapes_root, tmp_path):
    save_dir = tmp_path / "out"
    shutil.copytree(str(interrupted_run[0]), str(save_dir))
    iters = sorted(int(d.split("_")[-1]) for d in glob.glob(str(save_dir / "iter_*")))
    newest, second = (save_dir / "iter_{}".format(i) for i in (iters[-1], iters[-2]))
    broken = [str(newest / "model.pdparams"), str(second / "model.pdopt"),
              str(newest / "train_state.json")]
    with open(broken[0], "r+b") as f:  # truncated weights
        f.truncate(os.path.getsize(broken[0]) // 2)
    open(broken[1], "w").close()  # zero bytes
    with open(broken[2], "r+") as f:  # truncated JSON
        f.truncate(10)
    leftover = save_dir / ".tmp-iter_99-0123abcd"
    leftover.mkdir()
    (leftover / "model.pdparams").write_bytes(b"partial")
    good = save_dir / "iter_{}".format(iters[-3])

    def small_files():  # a disk that is full for files over 1 MB (a checkpoint is ~150 MB)
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    proc = _run(_command(toy_cityscapes_root, save_dir, "--iters", str(iters[-1] + 2),
                         "--save_interval", "1", "--resume_model", "auto",
                         "--keep_checkpoint_max", "0"), preexec_fn=small_files)
    for path in broken:
        assert "skipping" in proc.stdout and path in proc.stdout
    assert "Resumed from {} at iteration {}".format(good, iters[-3]) in proc.stdout
    assert "Removed {}".format(leftover) in proc.stdout and not leftover.exists()
    assert proc.returncode == 1
    (line,) = _error_lines(proc.stderr)
    assert line.startswith("train.py: error: Could not write checkpoint {}".format(
        save_dir / "iter_{}".format(iters[-3] + 1)))
    assert "the previous checkpoint {} is unchanged".format(good) in line
    assert sorted(os.listdir(str(good))) == ["model.pdopt", "model.pdparams", "train_state.json"]
    assert not glob.glob(str(save_dir / ".tmp-*"))



def test_sigterm_stops_with_143_and_one_line(toy_cityscapes_root, tmp_path):
    proc = _start(_command(toy_cityscapes_root, tmp_path / "out", "--iters", "1000"), tmp_path)
    _wait_for(lambda: "[TRAIN]" in (tmp_path / "stdout").read_text(), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = _finish(proc)
    assert proc.returncode == 143
    assert "Traceback" not in err and "C++ Traceback" not in err
    (line,) = _error_lines(err)
    assert re.fullmatch(r"train.py: stopped by SIGTERM at iteration \d+; last complete "
                        r"checkpoint: none; resume with --resume_model auto", line), line
