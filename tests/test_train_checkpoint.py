"""Checkpoint I/O: atomic directories, rotation, best_model, resume resolution and loading."""
import json
import os

import numpy as np
import paddle
import pytest

from paddleseg_panoptic.utils import checkpoint as ckpt


def _model_and_optimizer(iters=10):
    model = paddle.nn.Sequential(paddle.nn.Linear(3, 4), paddle.nn.BatchNorm1D(4))
    schedule = paddle.optimizer.lr.PolynomialDecay(0.1, decay_steps=iters, end_lr=0.0, power=0.9)
    optimizer = paddle.optimizer.Adam(schedule, parameters=model.parameters())
    return model, optimizer


def _step(model, optimizer, n=1):
    for _ in range(n):
        loss = model(paddle.randn([5, 3])).square().mean()
        loss.backward()
        optimizer.step()
        optimizer._learning_rate.step()
        optimizer.clear_grad()


def _save(save_dir, model, optimizer, iteration, keep=5):
    return ckpt.save_checkpoint(save_dir, model, optimizer, {"iteration": iteration, "seed": 1},
                                keep_checkpoint_max=keep)


def test_save_writes_complete_directory_and_rotates(tmp_path):
    save_dir = str(tmp_path / "out")  # does not exist yet
    model, optimizer = _model_and_optimizer()
    for it in (2, 4, 6, 8):
        path = _save(save_dir, model, optimizer, it, keep=2)
        assert sorted(os.listdir(path)) == ["model.pdopt", "model.pdparams", "train_state.json"]
    # Only the newest two are kept, and no temporary directory is left behind.
    assert sorted(os.listdir(save_dir)) == ["iter_6", "iter_8"]
    with open(os.path.join(save_dir, "iter_8", "train_state.json")) as f:
        state = json.load(f)
    assert state["iteration"] == 8 and state["seed"] == 1
    assert set(state["param_names"]) == {k for k, _ in model.named_parameters()}


def test_keep_checkpoint_max_zero_keeps_all(tmp_path):
    model, optimizer = _model_and_optimizer()
    for it in (1, 2, 3):
        _save(str(tmp_path), model, optimizer, it, keep=0)
    assert [i for i, _ in ckpt.list_checkpoints(str(tmp_path))] == [1, 2, 3]


def test_failed_save_leaves_no_partial_checkpoint(tmp_path):
    model, optimizer = _model_and_optimizer()
    _save(str(tmp_path), model, optimizer, 2)
    with pytest.raises(TypeError):  # a state that JSON cannot write fails after the weights
        ckpt.save_checkpoint(str(tmp_path), model, optimizer,
                             {"iteration": 4, "bad": object()})
    assert sorted(os.listdir(tmp_path)) == ["iter_2"]
    assert ckpt.latest_checkpoint(str(tmp_path)).endswith("iter_2")


def test_latest_checkpoint_skips_incomplete_and_temporary(tmp_path):
    model, optimizer = _model_and_optimizer()
    _save(str(tmp_path), model, optimizer, 3)
    # What a crash can leave: an abandoned temporary dir, and a foreign incomplete iter_N.
    os.makedirs(tmp_path / ".tmp-iter_9-abcd1234")
    os.makedirs(tmp_path / "iter_7")
    (tmp_path / "iter_7" / "model.pdparams").write_bytes(b"")
    assert ckpt.latest_checkpoint(str(tmp_path)) == str(tmp_path / "iter_3")
    assert ckpt.resolve_resume_dir("auto", str(tmp_path)) == str(tmp_path / "iter_3")
    assert ckpt.resolve_resume_dir("auto", str(tmp_path / "nothing")) is None
    assert ckpt.resolve_resume_dir(None, str(tmp_path)) is None


def test_resolve_resume_dir_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        ckpt.resolve_resume_dir(str(tmp_path / "no_such_dir"), str(tmp_path))
    os.makedirs(tmp_path / "iter_5")
    (tmp_path / "iter_5" / "model.pdparams").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="iter_5.*model.pdopt"):
        ckpt.resolve_resume_dir(str(tmp_path / "iter_5"), str(tmp_path))


def test_load_restores_model_optimizer_and_schedule_across_generated_names(tmp_path):
    paddle.seed(0)
    model, optimizer = _model_and_optimizer()
    _step(model, optimizer, 3)
    path = _save(str(tmp_path), model, optimizer, 3)
    paddle.seed(7)
    _step(model, optimizer, 2)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    # Build unrelated layers first so that Paddle's generated parameter names differ.
    paddle.nn.Linear(2, 2), paddle.nn.Linear(2, 2)
    model2, optimizer2 = _model_and_optimizer()
    assert [p.name for p in model2.parameters()] != [p.name for p in model.parameters()]
    state = ckpt.load_checkpoint(path, model2, optimizer2)
    assert state["iteration"] == 3
    # poly schedule: iteration 4 (1-based) uses 0.1 * (1 - 3 / 10) ** 0.9.
    assert optimizer2.get_lr() == pytest.approx(0.1 * (1 - 3 / 10) ** 0.9)
    # The same two steps from the restored state give the same weights: this needs Adam's
    # moments and beta powers back under the new names, not only the weights.
    paddle.seed(7)
    _step(model2, optimizer2, 2)
    assert set(expected) == set(model2.state_dict())
    for k, v in model2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), expected[k], err_msg=k)
    assert optimizer2.get_lr() == pytest.approx(optimizer.get_lr())


def test_load_rejects_weights_of_another_model(tmp_path):
    model, optimizer = _model_and_optimizer()
    path = _save(str(tmp_path), model, optimizer, 1)
    other = paddle.nn.Sequential(paddle.nn.Linear(3, 4))
    other_opt = paddle.optimizer.Adam(0.1, parameters=other.parameters())
    with pytest.raises(ValueError, match="does not fit the model.*missing"):
        ckpt.load_checkpoint(path, other, other_opt)


def test_legacy_checkpoint_takes_iteration_from_directory_name(tmp_path):
    model, optimizer = _model_and_optimizer()
    path = _save(str(tmp_path), model, optimizer, 40)
    os.remove(os.path.join(path, "train_state.json"))  # as the reference writes them
    model2, optimizer2 = _model_and_optimizer()
    assert ckpt.load_checkpoint(path, model2, optimizer2) == {
        "iteration": 40, "legacy": True, "optimizer_restored": True}
    renamed = tmp_path / "my_weights"
    os.replace(path, renamed)
    with pytest.raises(ValueError, match="my_weights.*iter_N"):
        ckpt.load_checkpoint(str(renamed), model2, optimizer2)


def test_best_model_created_and_replaced(tmp_path):
    save_dir = str(tmp_path / "fresh")  # the reference crashed here: best_model/ not created
    model, _ = _model_and_optimizer()
    path = ckpt.save_best_model(save_dir, model, {"iteration": 10, "PQ": 0.25})
    assert sorted(os.listdir(path)) == ["best_model.json", "model.pdparams"]
    ckpt.save_best_model(save_dir, model, {"iteration": 20, "PQ": 0.5})
    with open(os.path.join(save_dir, "best_model", "best_model.json")) as f:
        assert json.load(f) == {"iteration": 20, "PQ": 0.5}
    assert sorted(os.listdir(save_dir)) == ["best_model"]


def test_update_state_merges(tmp_path):
    model, optimizer = _model_and_optimizer()
    path = _save(str(tmp_path), model, optimizer, 2)
    ckpt.update_state(path, {"best": {"PQ": 0.3, "iteration": 2}})
    with open(os.path.join(path, "train_state.json")) as f:
        state = json.load(f)
    assert state["best"] == {"PQ": 0.3, "iteration": 2} and state["iteration"] == 2
    assert sorted(os.listdir(path)) == ["model.pdopt", "model.pdparams", "train_state.json"]


def test_foreign_optimizer_file_restores_schedule_only(tmp_path):
    # As with a reference checkpoint: no train_state.json, and the accumulators are named
    # after another process's generated parameter names.
    paddle.seed(0)
    model, optimizer = _model_and_optimizer()
    _step(model, optimizer, 4)
    path = _save(str(tmp_path), model, optimizer, 4)
    os.remove(os.path.join(path, "train_state.json"))
    paddle.nn.Linear(2, 2)  # shifts the generated names of the next model
    model2, optimizer2 = _model_and_optimizer()
    state = ckpt.load_checkpoint(path, model2, optimizer2)
    assert state == {"iteration": 4, "legacy": True, "optimizer_restored": False}
    for k, v in model2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), model.state_dict()[k].numpy())
    assert optimizer2.get_lr() == pytest.approx(optimizer.get_lr())
    _step(model2, optimizer2, 1)  # the step works: fresh moments instead of a crash
