"""The helpers shared by training, evaluation and prediction: dataset facts, strict weight
loading, device choice and the common command-line arguments."""
import argparse
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddleseg_panoptic.cvlibs.config import Config
from paddleseg_panoptic.datasets import meta
from paddleseg_panoptic.datasets.cityscapes_panoptic import CityscapesPanoptic
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.utils import cli
from paddleseg_panoptic.utils.device import set_device
from paddleseg_panoptic.utils.weights import load_weights

TOY = Path(__file__).resolve().parents[1] / "configs" / "quick_start" / \
    "panoptic_deeplab_resnet18_os32_toy.yml"


class _ThreeClasses:
    """A dataset object with its own facts, some under the other spelling, palette absent."""
    num_classes = 3
    THING_LIST = [np.int64(2)]
    label_divisor = 100
    ignore_index = 7
    stuff_area = 10
    class_names = ["a", "b", "c"]


def test_facts_default_to_cityscapes_and_are_hashable():
    facts = DatasetFacts()
    assert (facts.num_classes, facts.label_divisor, facts.ignore_index, facts.stuff_area) == (
        19, 1000, 255, 2048)
    assert facts.thing_list == tuple(range(11, 19)) and facts.palette == meta.PALETTE
    assert hash(facts) == hash(DatasetFacts())


def test_facts_from_dataset_reads_either_spelling():
    facts = DatasetFacts.from_dataset(_ThreeClasses())
    assert facts == DatasetFacts(num_classes=3, thing_list=(2,), label_divisor=100,
                                 ignore_index=7, stuff_area=10, class_names=("a", "b", "c"),
                                 palette=meta.PALETTE)
    assert type(facts.thing_list[0]) is int
    # the Cityscapes class attributes, and the instance's own stuff_area
    assert DatasetFacts.from_dataset(CityscapesPanoptic) == DatasetFacts()


def test_facts_from_config_keys_win_over_class_then_defaults(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("_base_: {}\nval_dataset:\n  stuff_area: 321\n".format(TOY))
    facts = DatasetFacts.from_config(Config(str(config)))
    # stuff_area from the YAML, everything else from CityscapesPanoptic's attributes
    assert facts == DatasetFacts(stuff_area=321)


def _linear_state(**shapes):
    layer = paddle.nn.Linear(2, 3)
    state = {k: v.numpy() for k, v in layer.state_dict().items()}
    state.update({k: np.zeros(s, "float32") for k, s in shapes.items()})
    return state


def test_strict_loading_refuses_missing_and_mismatched_before_changing_the_model(tmp_path):
    model = paddle.nn.Linear(2, 3)
    before = model.weight.numpy().copy()
    state = _linear_state(bias=(4,))          # bias of another shape
    path = tmp_path / "w.pdparams"
    paddle.save(state, str(path))
    with pytest.raises(ValueError, match="(?s)w.pdparams does not match the model.*bias"):
        load_weights(model, str(path), strict=True)
    np.testing.assert_array_equal(model.weight.numpy(), before)
    del state["bias"]
    with pytest.raises(ValueError, match="missing in checkpoint \\(1\\): bias"):
        load_weights(model, state, strict=True)
    # without strict the same weights load partially, with a report
    report = load_weights(model, state)
    assert report.missing == ["bias"] and report.loaded == ["weight"]


def test_strict_loading_accepts_extra_keys():
    model = paddle.nn.Linear(2, 3)
    state = _linear_state(extra=(1,))
    report = load_weights(model, state, strict=True)
    assert report.unexpected == ["extra"] and sorted(report.loaded) == ["bias", "weight"]
    np.testing.assert_array_equal(model.weight.numpy(), state["weight"])


def test_set_device_cpu_and_bad_names():
    assert set_device("cpu") == "cpu"
    assert paddle.get_device() == "cpu"
    with pytest.raises(ValueError, match="--device must be auto, cpu or gpu, got 'tpu'"):
        set_device("tpu")
    if not (paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0):
        with pytest.raises(ValueError, match="--device gpu"):
            set_device("gpu")
        assert set_device("auto") == "cpu"


def _parser(**kwargs):
    parser = argparse.ArgumentParser(prog="tool")
    cli.add_common_args(parser, opts_example="a.b=1", **kwargs)
    return parser


def test_cli_defaults_come_from_postprocess_defaults():
    from paddleseg_panoptic.postprocess import defaults

    parser = _parser()
    args = parser.parse_args([])
    assert cli.postprocess_kwargs(args) == {"threshold": defaults.THRESHOLD,
                                            "nms_kernel": defaults.NMS_KERNEL,
                                            "top_k": defaults.TOP_K}
    assert (args.device, args.opts) == ("auto", None)
    args = parser.parse_args(["--top_k", "0", "--opts", "a.b=1", "c=2", "--device", "cpu"])
    assert cli.postprocess_kwargs(args)["top_k"] is None
    assert (args.device, args.opts) == ("cpu", ["a.b=1", "c=2"])
    assert "during evaluation" in _parser(during="evaluation").format_help()
    assert "e.g. a.b=1" in parser.format_help()


def test_cli_rejects_even_nms_kernel(capsys):
    parser = _parser()
    with pytest.raises(SystemExit):
        cli.parse_args(parser, ["--nms_kernel", "4"])
    assert "--nms_kernel must be a positive odd number, got 4" in capsys.readouterr().err
