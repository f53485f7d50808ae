"""What a run leaves to read (train.log, metrics.jsonl, VisualDL scalars and pictures, the
curves PNG), the weight average (--use_ema) and the precision options, through the training
loop's Python API on a tiny model, the toy validation set and real subprocesses."""
import glob
import json
import os
import sys

import cv2
import numpy as np
import paddle
import pytest
from paddleseg import transforms as T
from visualdl import LogReader

from paddleseg_panoptic.core.train import TrainingError, train
from paddleseg_panoptic.core.train_data import seed_everything
from paddleseg_panoptic.core.train_ema import EMA_FILE
from paddleseg_panoptic.core.train_records import read_metrics, run_log
from paddleseg_panoptic.core.train_visuals import panel_tags
from paddleseg_panoptic.datasets import CityscapesPanoptic
from paddleseg_panoptic.utils import visualize as vis
from test_train_loop import LOSS, NaNOnCall, Synthetic, TinyPanoptic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Fields of a record that depend on the wall clock, not on the computation.
TIMED = ("time", "seconds", "batch_cost", "reader_cost", "ips")


def _run(save_dir, val_root=None, iters=6, loss=LOSS, **kwargs):
    """The tiny model (19 classes, so the Cityscapes toy set can evaluate it)."""
    seed_everything(3)
    model = TinyPanoptic(num_classes=19)
    schedule = paddle.optimizer.lr.PolynomialDecay(0.01, decay_steps=iters, end_lr=0.0,
                                                   power=0.9)
    optimizer = paddle.optimizer.Adam(schedule, parameters=model.parameters())
    options = dict(iters=iters, batch_size=2, seed=3, save_dir=str(save_dir), save_interval=4,
                   log_iters=1)
    if val_root is not None:
        options.update(do_eval=True, val_dataset=CityscapesPanoptic(
            [T.Normalize()], val_root, mode="val"))
    options.update(kwargs)
    return model, train(model, Synthetic(), optimizer, loss, **options)


def _untimed(records):
    return [{k: v for k, v in r.items() if k not in TIMED} for r in records]


@pytest.fixture(scope="module")
def straight(toy_cityscapes_root, tmp_path_factory):
    """6 iterations, checkpoints at 4 and 6, evaluations at both, VisualDL on."""
    save_dir = tmp_path_factory.mktemp("straight")
    _run(save_dir, toy_cityscapes_root, use_vdl=True)
    return save_dir


def test_metrics_history_of_a_run_with_evaluation(straight):
    records = read_metrics(str(straight / "metrics.jsonl"))
    assert [(r["type"], r["iteration"]) for r in records] == [
        ("train", 1), ("train", 2), ("train", 3), ("train", 4), ("eval", 4), ("train", 5),
        ("train", 6), ("eval", 6)]
    first = records[0]
    assert set(first) == {"type", "iteration", "epoch", "loss", "loss_semantic", "loss_center",
                          "loss_offset", "lr", "batch_cost", "reader_cost", "ips", "time"}
    assert first["epoch"] == 1 and records[3]["epoch"] == 2  # 3 iterations per epoch
    assert first["lr"] == pytest.approx(0.01)  # iteration 1 runs at the initial rate
    assert first["loss"] == pytest.approx(first["loss_semantic"] + first["loss_center"]
                                          + first["loss_offset"], rel=1e-5)
    evaluation = records[4]
    for group in ("", "_things", "_stuff"):
        for key in ("PQ", "SQ", "RQ"):
            assert 0.0 <= evaluation[key + group] <= 1.0
    assert {"mIoU", "mAP", "mAP50", "seconds"} <= set(evaluation)
    with open(straight / "best_model" / "best_model.json") as f:
        best = json.load(f)
    assert best["PQ"] == max(r["PQ"] for r in records if r["type"] == "eval")
    with open(straight / "train.log") as f:
        log = f.read()
    assert "[TRAIN] epoch: 1, iter: 1/6" in log and "[EVAL] iter: 6, PQ: " in log
    assert "Saved checkpoint {}".format(straight / "iter_6") in log


def test_resume_after_a_crash_appends_without_duplicates(straight, toy_cityscapes_root,
                                                         tmp_path):
    # The 6th step fails: iterations 1-5 were logged, the last checkpoint is iteration 4.
    with pytest.raises(TrainingError, match="iteration 6"):
        _run(tmp_path, toy_cityscapes_root, loss=NaNOnCall(bad_call=6))
    crashed = read_metrics(str(tmp_path / "metrics.jsonl"))
    assert [r["iteration"] for r in crashed if r["type"] == "train"] == [1, 2, 3, 4, 5]
    _run(tmp_path, toy_cityscapes_root, resume_model="auto")
    resumed = read_metrics(str(tmp_path / "metrics.jsonl"))
    # Iteration 5 is logged once (by the resumed run), and every value but the timings is the
    # straight run's: the resume is exact.
    assert _untimed(resumed) == _untimed(read_metrics(str(straight / "metrics.jsonl")))
    with open(tmp_path / "train.log") as f:
        log = f.read()
    assert "TrainingError: Non-finite loss at iteration 6" in log  # with its traceback
    assert "Resumed from {} at iteration 4".format(tmp_path / "iter_4") in log
    # Resuming a checkpoint of another directory starts from that directory's history.
    other = tmp_path / "other"
    _run(other, toy_cityscapes_root, resume_model=str(straight / "iter_4"))
    assert _untimed(read_metrics(str(other / "metrics.jsonl"))) == _untimed(resumed)


def _decoded_images(reader, tag):
    records = reader.get_data("image", tag)
    return [r.id for r in records], [cv2.cvtColor(cv2.imdecode(
        np.frombuffer(r.image.encoded_image_string, np.uint8), cv2.IMREAD_COLOR),
        cv2.COLOR_BGR2RGB) for r in records]


def test_visualdl_scalar_tags_and_validation_pictures(straight, toy_cityscapes_root):
    records = glob.glob(str(straight / "vdlrecords.*"))
    assert len(records) == 1
    reader = LogReader(file_path=records[0])
    tags = reader.get_tags()
    # The reference's tags, so its dashboards keep working, plus the loss terms.
    assert {"Train/loss", "Train/lr", "Train/batch_cost", "Train/reader_cost", "Evaluate/PQ",
            "Evaluate/mIoU", "Evaluate/mAP", "Evaluate/mAP50", "Train/loss_semantic",
            "Train/loss_center", "Train/loss_offset"} <= set(tags["scalar"])
    assert [r.id for r in reader.get_data("scalar", "Evaluate/mAP50")] == [4, 6]
    # Both toy validation images (fewer than NUM_IMAGES), five pictures each, per evaluation.
    assert sorted(tags["image"]) == sorted(panel_tags(0) + panel_tags(1))
    dataset = CityscapesPanoptic([T.Normalize()], toy_cityscapes_root, mode="val")
    for k in (0, 1):
        steps, (image, _) = _decoded_images(reader, "Images/{}/input".format(k))
        assert steps == [4, 6]
        np.testing.assert_array_equal(image, vis.read_png_rgb(dataset.records[k]["image_path"]))
        _, (truth, _) = _decoded_images(reader, "Images/{}/ground_truth".format(k))
        np.testing.assert_array_equal(truth, vis.colorize_panoptic(dataset[k]["raw_panoptic"]))
        for name in ("prediction", "center", "offset"):
            _, pictures = _decoded_images(reader, "Images/{}/{}".format(k, name))
            assert all(p.shape == image.shape for p in pictures), name


def test_plot_log_writes_a_png_from_a_real_run(straight, tmp_path, capsys, load_tool):
    # The tool's main() in this process (a subprocess would spend its time importing Paddle;
    # scripts/demo.sh runs it as a command).
    tool = load_tool("plot_log")
    out = tmp_path / "curves.png"
    assert tool.main([str(straight), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    picture = cv2.imread(str(out))
    assert picture.shape == (900, 800, 3)  # 8 x 9 inches at 100 dpi
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 20  # curves, not a blank page
    assert tool.main([str(tmp_path)]) == 1
    assert "plot_log.py: error: {} does not exist".format(tmp_path / "metrics.jsonl") in \
        capsys.readouterr().err


def _numpy_state(path):
    return {k: np.asarray(v) for k, v in paddle.load(str(path)).items()}


def test_ema_is_the_hand_computed_average_and_is_what_best_model_holds(toy_cityscapes_root,
                                                                        tmp_path):
    seed_everything(3)
    initial = {k: v.numpy().copy() for k, v in TinyPanoptic(num_classes=19).state_dict().items()}
    _run(tmp_path, toy_cityscapes_root, iters=3, save_interval=1, use_ema=True,
         keep_checkpoint_max=0)
    # ema_0 = w_0; ema_i = d_i ema_{i-1} + (1 - d_i) w_i with d_i = min(1 - 1 / (i + 1), 0.999)
    # (1/2, 2/3, 3/4): the mean of the initial weights and the weights after each step.
    steps = [_numpy_state(tmp_path / "iter_{}".format(i) / "model.pdparams") for i in (1, 2, 3)]
    ema = _numpy_state(tmp_path / "iter_3" / EMA_FILE)
    assert set(ema) == set(initial)
    for key, value in initial.items():
        expected = value.astype(np.float64)
        for i, weights in enumerate(steps, 1):
            decay = min(1 - 1 / (i + 1), 0.999)
            expected = decay * expected + (1 - decay) * weights[key]
        np.testing.assert_allclose(ema[key], expected, rtol=1e-5, atol=1e-7, err_msg=key)
        mean = (value + sum(w[key] for w in steps)) / 4
        np.testing.assert_allclose(ema[key], mean, rtol=1e-5, atol=1e-7, err_msg=key)
    assert not np.array_equal(ema["conv.weight"], steps[-1]["conv.weight"])
    # The evaluation (at 2 and 3) saw the average: best_model holds an average, not raw weights.
    best = _numpy_state(tmp_path / "best_model" / "model.pdparams")
    with open(tmp_path / "best_model" / "best_model.json") as f:
        best_iteration = json.load(f)["iteration"]
    assert best_iteration in (2, 3)
    saved = _numpy_state(tmp_path / "iter_{}".format(best_iteration) / EMA_FILE)
    for key in best:
        np.testing.assert_array_equal(best[key], saved[key], err_msg=key)


def test_ema_resumes_exactly(tmp_path):
    _run(tmp_path / "a", iters=4, save_interval=2, use_ema=True)
    _run(tmp_path / "b", iters=4, save_interval=2, use_ema=True,
         resume_model=str(tmp_path / "a" / "iter_2"))
    a = _numpy_state(tmp_path / "a" / "iter_4" / EMA_FILE)
    b = _numpy_state(tmp_path / "b" / "iter_4" / EMA_FILE)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # A checkpoint without an average (written without --use_ema) restarts it, and says so.
    _run(tmp_path / "c", iters=2, save_interval=2)
    _run(tmp_path / "d", iters=4, save_interval=2, use_ema=True,
         resume_model=str(tmp_path / "c" / "iter_2"))
    with open(tmp_path / "d" / "train.log") as f:
        assert "has no {}: the weight average starts again".format(EMA_FILE) in f.read()


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_mixed_precision_on_cpu_is_a_clear_error(tmp_path, precision):
    if paddle.get_device() != "cpu":
        pytest.skip("checks the CPU's refusal")
    with pytest.raises(TrainingError, match="--precision {} needs a GPU".format(precision)):
        _run(tmp_path, iters=2, precision=precision)
    assert not glob.glob(str(tmp_path / "iter_*"))


def test_unknown_precision_or_level_is_an_error(tmp_path):
    with pytest.raises(TrainingError, match="--precision must be one of fp32|fp16|bf16"):
        _run(tmp_path, iters=2, precision="fp8")
    with pytest.raises(TrainingError, match="--amp_level must be O1 or O2"):
        _run(tmp_path, iters=2, amp_level="O3")


@pytest.mark.skipif(not (paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count()),
                    reason="fp16 training needs a CUDA GPU (Paddle's auto_cast is a no-op on "
                           "CPU)")
def test_fp16_keeps_the_loss_scaler_in_the_checkpoint_and_resumes(tmp_path):
    paddle.set_device("gpu")
    try:
        _run(tmp_path / "a", iters=4, save_interval=2, precision="fp16")
        _run(tmp_path / "b", iters=4, save_interval=2, precision="fp16",
             resume_model=str(tmp_path / "a" / "iter_2"))
        states = []
        for name in ("a", "b"):
            with open(tmp_path / name / "iter_4" / "train_state.json") as f:
                states.append(json.load(f)["grad_scaler"])
        assert states[0]["scale"] and states[0] == states[1]
    finally:
        paddle.set_device("cpu")


def test_run_log_copies_rank0_output_and_prefixes_other_ranks(tmp_path, capsys):
    with run_log(str(tmp_path), rank=0):
        print("hello")
        sys.stderr.write("progress 10%\rprogress 100%\n")
    with pytest.raises(KeyError):
        with run_log(str(tmp_path), rank=1):
            print("rank 1 output stays on the terminal")
            sys.stderr.write("a warning\n")
            with run_log(str(tmp_path), rank=1):  # nested: the traceback is written once
                raise KeyError("boom")
    with open(tmp_path / "train.log") as f:
        lines = f.read().splitlines()
    assert lines[:3] == ["hello", "progress 100%", "[rank 1] a warning"]
    assert lines[3] == "[rank 1] Traceback (most recent call last):"
    assert lines[-1] == "[rank 1] KeyError: 'boom'"
    assert sum("Traceback" in line for line in lines) == 1
    assert "rank 1 output stays on the terminal" in capsys.readouterr().out


def test_read_metrics_names_a_bad_line_and_skips_a_cut_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type": "train", "iteration": 1}\n{"type": "tra')  # killed mid-write
    assert read_metrics(str(path)) == [{"type": "train", "iteration": 1}]
    path.write_text('{"type": "train", "iteration": 1}\nnot json\n{"iteration": 2}\n')
    with pytest.raises(ValueError, match="metrics.jsonl line 2: not a metrics record"):
        read_metrics(str(path))
