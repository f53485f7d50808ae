"""Config files: _base_ chains, merge rules, overrides, dump and the errors naming file / key."""
import os
import textwrap

import pytest

import paddleseg_panoptic  # noqa: F401  (registers components)
from paddleseg_panoptic.cvlibs import Config, ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF_BS1 = os.path.join(REPO, "configs/panoptic_deeplab/"
                       "panoptic_deeplab_resnet50_os32_cityscapes_2049x1025_bs1_90k_lr00005.yml")
REF_BS8 = os.path.join(REPO, "configs/panoptic_deeplab/"
                       "panoptic_deeplab_resnet50_os32_cityscapes_1025x513_bs8_90k_lr00005.yml")
TOY = os.path.join(REPO, "configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml")


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture
def chain(tmp_path):
    """grandparent (in base/) -> parent (in base/) -> child (in exp/)."""
    write(tmp_path / "base" / "grand.yml", """
        batch_size: 2
        iters: 100
        model: {type: M, depth: 50, widths: [1, 2, 3], head: {a: 1, b: 2}}
        optimizer: {type: adam}
        learning_rate: {value: 0.1, decay: {type: poly, power: 0.9, end_lr: 0.0}}
        """)
    write(tmp_path / "base" / "parent.yml", """
        _base_: grand.yml
        iters: 200
        model: {head: {b: 3, c: 4}}
        """)
    return write(tmp_path / "exp" / "child.yml", """
        _base_: ../base/parent.yml
        model:
          widths: [9]
          head: {c: 5}
        """)


def test_two_level_inheritance_merges_mappings_and_replaces_scalars(chain):
    dic = Config(chain).dic
    assert dic["batch_size"] == 2          # only in the grandparent
    assert dic["iters"] == 200             # parent replaces grandparent
    assert dic["model"]["depth"] == 50     # untouched mapping keys survive two merges
    # a: grandparent, b: parent over grandparent, c: child over parent.
    assert dic["model"]["head"] == {"a": 1, "b": 3, "c": 5}
    assert "_base_" not in dic


def test_lists_replace_the_whole_parent_list(chain):
    assert Config(chain).dic["model"]["widths"] == [9]


def test_inherited_false_replaces_the_mapping(tmp_path, chain):
    path = write(tmp_path / "exp" / "replace.yml", """
        _base_: child.yml
        model:
          head: {_inherited_: False, z: 0}
        """)
    dic = Config(path).dic
    assert dic["model"]["head"] == {"z": 0}   # no a/b/c from the bases, no flag left
    assert dic["model"]["depth"] == 50        # the enclosing mapping still merges


def test_reference_configs_values():
    bs8 = Config(REF_BS8)
    dic = bs8.dic
    assert bs8.batch_size == 8 and bs8.iters == 90000
    crop = dic["train_dataset"]["transforms"][1]
    assert crop == {"type": "RandomPaddingCrop", "crop_size": [1025, 513],
                    "label_padding_value": [0, 0, 0]}
    assert dic["val_dataset"]["transforms"][0]["target_size"] == [2049, 1025]
    assert dic["learning_rate"] == {"value": 5e-05,
                                    "decay": {"type": "poly", "power": 0.9, "end_lr": 0.0}}
    assert dic["loss"]["coef"] == [1, 200, 0.001]
    assert dic["model"]["backbone"]["pretrained"].endswith("resnet50_vd_ssld_v2.tar.gz")
    bs1 = Config(REF_BS1)
    assert bs1.batch_size == 1
    assert bs1.dic["train_dataset"]["transforms"][1]["crop_size"] == [2049, 1025]
    assert bs1.dic["model"] == dic["model"]
    for mode, key in (("train", "train_dataset"), ("val", "val_dataset")):
        assert dic[key]["mode"] == mode
        assert dic[key]["small_instance_area"] == 4096
        assert dic[key]["small_instance_weight"] == 3
        assert dic[key]["ignore_stuff_in_offset"] is True


def test_reference_model_section_matches_the_manifest():
    import json
    manifest = os.path.join(REPO, "tests", "data", "panoptic_deeplab_r50_os32_state_dict.json")
    with open(manifest) as f:
        expected = json.load(f)["build_kwargs"]["model"]
    model = Config(REF_BS1).dic["model"]
    for key, value in expected.items():
        assert model[key] == value, key


def test_overrides_replace_values(chain):
    cfg = Config(chain, iters=7, batch_size=3, learning_rate=0.5,
                 opts=["model.depth=18", "model.widths.0=4", "model.head.a=null",
                       "optimizer.type=sgd"])
    dic = cfg.dic
    assert cfg.iters == 7 and cfg.batch_size == 3
    assert dic["learning_rate"]["value"] == 0.5
    assert dic["learning_rate"]["decay"]["power"] == 0.9
    assert dic["model"]["depth"] == 18
    assert dic["model"]["widths"] == [4]
    assert dic["model"]["head"]["a"] is None
    assert dic["optimizer"]["type"] == "sgd"


def test_opts_values_are_yaml_and_apply_before_explicit_arguments(chain):
    cfg = Config(chain, iters=9, opts=["iters=5", "model.widths=[5, 6]"])
    assert cfg.iters == 9
    assert cfg.dic["model"]["widths"] == [5, 6]


def test_dump_round_trip(tmp_path, chain):
    cfg = Config(chain, iters=11)
    out = str(tmp_path / "out" / "resolved.yml")
    cfg.dump(out)
    assert Config(out).dic == cfg.dic


def test_loading_is_lazy():
    # The reference config names a dataset that may not be registered, a dataset root that
    # does not exist and an unreachable URL; loading and reading values touches none of them.
    cfg = Config(REF_BS8, opts=["train_dataset.dataset_root=/nonexistent/x"])
    assert cfg.iters == 90000
    assert cfg.dic["train_dataset"]["dataset_root"] == "/nonexistent/x"
    assert Config(TOY).dic["train_dataset"]["dataset_root"] == "data/toy_cityscapes"


# ---------------------------------------------------------------- errors

def test_missing_file_is_named(tmp_path):
    missing = str(tmp_path / "nope.yml")
    with pytest.raises(FileNotFoundError, match="nope.yml"):
        Config(missing)


def test_missing_base_names_base_and_child(tmp_path):
    child = write(tmp_path / "child.yml", "_base_: ../gone/base.yml\niters: 1\n")
    with pytest.raises(FileNotFoundError) as info:
        Config(child)
    assert "base.yml" in str(info.value) and "child.yml" in str(info.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.yml", "iters: 1\nmodel:\n  type: [unclosed\nbatch_size: 2\n")
    with pytest.raises(ConfigError) as info:
        Config(path)
    text = str(info.value)
    assert "bad.yml" in text and "line" in text
    # The problem is reported on line 4 or 3 depending on where PyYAML notices it.
    assert "line 4" in text or "line 3" in text


def test_base_cycle_is_reported(tmp_path):
    write(tmp_path / "a.yml", "_base_: b.yml\n")
    b = write(tmp_path / "b.yml", "_base_: a.yml\n")
    with pytest.raises(ConfigError, match="Cycle"):
        Config(b)


def test_unknown_opts_key_names_key_and_file(chain):
    with pytest.raises(ConfigError) as info:
        Config(chain, opts=["model.hed.a=1"])
    text = str(info.value)
    assert "model.hed" in text and "child.yml" in text and "head" in text
    with pytest.raises(ConfigError, match="not an index"):
        Config(chain, opts=["model.widths.3=1"])
    with pytest.raises(ConfigError, match="key.sub=value"):
        Config(chain, opts=["iters"])


def test_missing_or_invalid_required_value_is_named(tmp_path):
    path = write(tmp_path / "c.yml", "batch_size: 1\n")
    with pytest.raises(ConfigError, match="iters"):
        Config(path).iters
    with pytest.raises(ConfigError, match="batch_size.*positive"):
        Config(path, batch_size=0).batch_size
    with pytest.raises(ConfigError, match="batch_size.*number"):
        Config(path, opts="batch_size=two").batch_size   # a single string is one override


def test_postprocess_section_defaults_values_and_errors(tmp_path):
    from paddleseg_panoptic.postprocess.defaults import NMS_KERNEL, THRESHOLD, TOP_K

    path = tmp_path / "c.yml"
    path.write_text("batch_size: 1\n")
    assert Config(str(path)).postprocess == {"threshold": THRESHOLD, "nms_kernel": NMS_KERNEL,
                                             "top_k": TOP_K}
    path.write_text("postprocess:\n  threshold: 0.3\n  top_k: 0\n")
    assert Config(str(path)).postprocess == {"threshold": 0.3, "nms_kernel": NMS_KERNEL,
                                             "top_k": None}
    path.write_text("postprocess:\n  treshold: 0.3\n")
    with pytest.raises(ConfigError, match="`postprocess` may only set threshold, nms_kernel, "
                                          "top_k"):
        Config(str(path)).postprocess
    path.write_text("postprocess:\n  nms_kernel: big\n")
    with pytest.raises(ConfigError, match="postprocess.nms_kernel"):
        Config(str(path)).postprocess


@pytest.mark.parametrize("tool", ["val", "train", "export"])
def test_tools_take_postprocess_defaults_from_the_config(tmp_path, load_tool, tool):
    path = tmp_path / "c.yml"
    path.write_text("postprocess:\n  threshold: 0.3\n  nms_kernel: 11\n")
    parse = load_tool(tool).parse_args
    extra = ["--model_path", str(path)] if tool == "export" else []
    args = parse(["--config", str(path)] + extra)
    assert (args.threshold, args.nms_kernel, args.top_k) == (0.3, 11, 200)
    args = parse(["--config", str(path), "--threshold", "0.5", "--opts",
                  "postprocess.nms_kernel=5"] + extra)
    assert (args.threshold, args.nms_kernel) == (0.5, 5)  # the command line wins
