"""The training loop through its Python API, on a tiny model and synthetic samples.

The model here is a few layers with BatchNorm and dropout (so both the data order and
Paddle's generator matter); the full model and the toy dataset run in test_train_cli.py.
"""
import glob
import os
import random

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from visualdl import LogReader

from paddleseg_panoptic.core.train import TrainingError, parameter_digest, train
from paddleseg_panoptic.core.train_data import seed_everything
from paddleseg_panoptic.losses import PanopticLoss
from paddleseg_panoptic.utils.checkpoint import save_checkpoint

H, W, C = 12, 10, 3
LOSS = {"types": [{"type": "CrossEntropyLoss", "top_k_percent_pixels": 0.2},
                  {"type": "MSELoss", "reduction": "none"},
                  {"type": "L1Loss", "reduction": "none"}],
        "coef": [1, 200, 0.001]}


class TinyPanoptic(paddle.nn.Layer):
    def __init__(self, num_classes=C):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, 8, 3, padding=1, bias_attr=False)
        self.bn = paddle.nn.BatchNorm2D(8)
        self.drop = paddle.nn.Dropout(0.5)
        self.semantic = paddle.nn.Conv2D(8, num_classes, 1)
        self.center = paddle.nn.Conv2D(8, 1, 1)
        self.offset = paddle.nn.Conv2D(8, 2, 1)

    def forward(self, x):
        f = self.drop(F.relu(self.bn(self.conv(x))))
        return [self.semantic(f), self.center(f), self.offset(f)]


class Synthetic(paddle.io.Dataset):
    """Fixed content per index plus an 'augmentation' drawn from numpy's and Python's RNGs."""

    def __init__(self, n=6):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.RandomState(i)
        image = rng.randn(3, H, W).astype("float32")
        semantic = rng.randint(0, C, (H, W)).astype("int64")
        if np.random.rand() < 0.5:  # random horizontal flip, as paddleseg's transforms draw
            image, semantic = image[:, :, ::-1].copy(), semantic[:, ::-1].copy()
        image = image * np.float32(1 + 0.2 * random.random())
        return {"image": image, "semantic": semantic,
                "semantic_weights": np.ones((H, W), "float32"),
                "center": rng.rand(1, H, W).astype("float32"),
                "center_weights": (rng.rand(H, W) > 0.5).astype("float32"),
                "offset": rng.randn(2, H, W).astype("float32"),
                "offset_weights": np.ones((H, W), "float32"),
                "foreground": np.zeros((H, W), "int64")}


def _run(save_dir, iters=6, resume_model=None, loss=LOSS, dataset=None, **kwargs):
    seed_everything(3)
    model = TinyPanoptic()
    schedule = paddle.optimizer.lr.PolynomialDecay(0.01, decay_steps=iters, end_lr=0.0,
                                                   power=0.9)
    optimizer = paddle.optimizer.Adam(schedule, parameters=model.parameters())
    options = dict(iters=iters, batch_size=2, seed=3, save_dir=str(save_dir), save_interval=3,
                   log_iters=2, resume_model=resume_model)
    options.update(kwargs)
    summary = train(model, dataset or Synthetic(), optimizer, loss, **options)
    return model, summary


def _weights(path):
    return {k: np.asarray(v) for k, v in paddle.load(str(path)).items()}


def test_resume_reproduces_the_straight_run_exactly(tmp_path):
    # 6 samples / batch 2 = 3 iterations per epoch: resuming at 3 starts a new epoch, at 4
    # resumes inside one.
    straight, summary = _run(tmp_path / "a", iters=8, save_interval=4)
    assert summary["iteration"] == 8
    again = _run(tmp_path / "b", iters=8, save_interval=4)[1]
    assert again["param_digests"] == summary["param_digests"]  # same seed, same run
    resumed, resumed_summary = _run(tmp_path / "c", iters=8, save_interval=4,
                                    resume_model=str(tmp_path / "a" / "iter_4"))
    assert resumed_summary["param_digests"] == summary["param_digests"]
    a, c = _weights(tmp_path / "a" / "iter_8" / "model.pdparams"), \
        _weights(tmp_path / "c" / "iter_8" / "model.pdparams")
    for k in a:  # BatchNorm running statistics included
        np.testing.assert_array_equal(a[k], c[k], err_msg=k)
    assert resumed_summary["last_losses"] == summary["last_losses"]
    # A different seed really changes the run (the comparison above can fail).
    other = _run(tmp_path / "d", iters=8, save_interval=4, seed=4)[1]
    assert other["param_digests"] != summary["param_digests"]


def test_resume_auto_takes_newest_checkpoint_and_finishes(tmp_path, capsys):
    _run(tmp_path, iters=3, save_interval=3)
    _, summary = _run(tmp_path, iters=6, save_interval=3, resume_model="auto")
    assert "Resumed from {} at iteration 3".format(tmp_path / "iter_3") in capsys.readouterr().out
    assert summary["iteration"] == 6
    assert sorted(os.listdir(tmp_path))[:2] == ["iter_3", "iter_6"]


def test_log_line_and_visualdl_scalars(tmp_path, capsys):
    _run(tmp_path, iters=4, save_interval=4, log_iters=2, use_vdl=True)
    lines = [l for l in capsys.readouterr().out.splitlines() if "[TRAIN]" in l]
    assert len(lines) == 2
    assert "epoch: 1, iter: 2/4, loss: " in lines[0] and "epoch: 2, iter: 4/4" in lines[1]
    # The lr of the logged iteration: i (1-based) uses 0.01 * (1 - (i - 1) / 4) ** 0.9.
    for part in ("semantic: ", "center: ", "offset: ", "lr: {:.6f}".format(0.01 * 0.75 ** 0.9),
                 "batch_cost: ",
                 "reader_cost: ", "samples/sec", "ETA 00:00:"):
        assert part in lines[0], part
    assert "lr: {:.6f}".format(0.01 * 0.25 ** 0.9) in lines[1]
    records = glob.glob(str(tmp_path / "vdlrecords.*"))
    assert len(records) == 1
    reader = LogReader(file_path=records[0])
    tags = reader.get_tags()["scalar"]
    for tag in ("Train/loss", "Train/loss_semantic", "Train/loss_center", "Train/loss_offset",
                "Train/lr", "Train/batch_cost", "Train/reader_cost"):
        assert tag in tags
    assert [r.id for r in reader.get_data("scalar", "Train/loss")] == [2, 4]


class NaNOnCall(PanopticLoss):
    """The reference loss, except that call number ``bad_call`` returns NaN."""

    def __init__(self, bad_call):
        super().__init__(LOSS["types"], LOSS["coef"])
        self.calls, self.bad_call = 0, bad_call

    def forward(self, outputs, batch):
        self.calls += 1
        losses = super().forward(outputs, batch)
        if self.calls == self.bad_call:
            losses["total"] = losses["total"] * float("nan")
        return losses


def test_non_finite_loss_stops_and_names_iteration_and_checkpoint(tmp_path):
    with pytest.raises(TrainingError) as info:
        _run(tmp_path, iters=10, save_interval=3, loss=NaNOnCall(bad_call=5))
    message = str(info.value)
    assert "Non-finite loss at iteration 5" in message
    assert "The last checkpoint, {}, holds finite weights".format(tmp_path / "iter_3") in message
    assert "total=nan" in message
    assert sorted(os.listdir(tmp_path)) == ["iter_3", "metrics.jsonl", "train.log"]
    with open(tmp_path / "train.log") as f:  # the error, with its traceback
        assert "TrainingError: Non-finite loss at iteration 5" in f.read()


def test_non_finite_loss_before_any_checkpoint(tmp_path):
    with pytest.raises(TrainingError, match="iteration 1;.*No checkpoint was written yet"):
        _run(tmp_path, iters=4, loss=NaNOnCall(bad_call=1))


def test_weights_unchanged_by_the_non_finite_step(tmp_path):
    # The check happens before backward: iteration 2's update never reaches the weights, so
    # the trainable parameters in memory still equal the checkpoint of iteration 1 (BatchNorm
    # running statistics did see that forward pass).
    seed_everything(3)
    model = TinyPanoptic()
    optimizer = paddle.optimizer.Adam(0.01, parameters=model.parameters())
    with pytest.raises(TrainingError, match="iteration 2"):
        train(model, Synthetic(), optimizer, NaNOnCall(bad_call=2), iters=4, batch_size=2,
              seed=3, save_dir=str(tmp_path), save_interval=1)
    saved = _weights(tmp_path / "iter_1" / "model.pdparams")
    trainable = [(k, v) for k, v in model.named_parameters() if v.trainable]
    assert len(trainable) == 9  # conv, BN weight and bias, three heads x (weight, bias)
    for k, v in trainable:
        np.testing.assert_array_equal(v.numpy(), saved[k], err_msg=k)


def test_dataset_smaller_than_one_batch_is_an_error_not_a_spin(tmp_path):
    with pytest.raises(TrainingError, match="1 samples, fewer than one global batch of 2"):
        _run(tmp_path, dataset=Synthetic(n=1))


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="do_eval needs a val_dataset"):
        _run(tmp_path, do_eval=True)
    with pytest.raises(ValueError, match="must be positive"):
        _run(tmp_path, save_interval=0)


def test_parameter_digest_tracks_trainable_weights():
    paddle.seed(0)
    model = TinyPanoptic()
    before = parameter_digest(model)
    assert parameter_digest(model) == before and len(before) == 64
    model.bn._mean.set_value(paddle.ones_like(model.bn._mean))  # a buffer: not counted
    assert parameter_digest(model) == before
    model.center.bias.set_value(model.center.bias + 1)
    assert parameter_digest(model) != before


def test_resume_from_a_checkpoint_of_another_model_is_a_training_error(tmp_path):
    other = paddle.nn.Linear(2, 2)
    optimizer = paddle.optimizer.Adam(0.1, parameters=other.parameters())
    save_checkpoint(str(tmp_path), other, optimizer, {"iteration": 2})
    with pytest.raises(TrainingError, match="--resume_model: Checkpoint .*iter_2 does not fit"):
        _run(tmp_path / "out", resume_model=str(tmp_path / "iter_2"))
