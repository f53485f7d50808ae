"""Bad dataset folders and files give errors that name the path and the command to fix it."""
import json
import os
import shutil

import numpy as np
import paddleseg.transforms as T
import pytest

from paddleseg_panoptic.datasets import CityscapesPanoptic
from paddleseg_panoptic.datasets.prepare import (check_layout, convert_to_panoptic,
                                                 prepare_cityscapes)


@pytest.fixture
def toy_copy(toy_cityscapes_root, tmp_path):
    root = str(tmp_path / "cityscapes")
    shutil.copytree(toy_cityscapes_root, root)
    return root


def build(root, mode="train"):
    return CityscapesPanoptic([T.Normalize()], root, mode=mode)


@pytest.mark.parametrize("missing", ["leftImg8bit", "gtFine",
                                     "gtFine/cityscapes_panoptic_train_trainId.json"])
def test_missing_folder_or_json_names_path_and_commands(toy_copy, missing):
    path = os.path.join(toy_copy, missing)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    with pytest.raises(FileNotFoundError) as err:
        build(toy_copy)
    message = str(err.value)
    assert path in message
    assert "tools/prepare_cityscapes.py" in message and "tools/make_toy_cityscapes.py" in message


def test_missing_image_names_image_and_annotation(toy_copy):
    ds = build(toy_copy)
    image, label = ds.records[1]["image_path"], ds.records[1]["label_path"]
    os.remove(image)
    with pytest.raises(FileNotFoundError) as err:
        build(toy_copy)
    assert image in str(err.value) and label in str(err.value)


def test_missing_label_png_names_it(toy_copy):
    label = build(toy_copy, "val").records[0]["label_path"]
    os.remove(label)
    with pytest.raises(FileNotFoundError, match="tools/prepare_cityscapes.py") as err:
        build(toy_copy, "val")
    assert label in str(err.value)


@pytest.mark.parametrize("which", ["image_path", "label_path"])
@pytest.mark.parametrize("mode", ["train", "val"])
def test_corrupt_png_is_an_error_naming_the_file(toy_copy, which, mode):
    ds = build(toy_copy, mode)
    path = ds.records[0][which]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(OSError) as err:
        ds[0]
    assert path in str(err.value)
    ds[1]  # the other samples still load


def test_empty_split_is_a_clear_error(toy_copy):
    path = os.path.join(toy_copy, "gtFine", "cityscapes_panoptic_val_trainId.json")
    with open(path) as f:
        content = json.load(f)
    content["annotations"] = []
    with open(path, "w") as f:
        json.dump(content, f)
    with pytest.raises(ValueError, match="split is empty") as err:
        build(toy_copy, "val")
    assert path in str(err.value)


def test_broken_json_names_the_file(toy_copy):
    path = os.path.join(toy_copy, "gtFine", "cityscapes_panoptic_val_trainId.json")
    with open(path, "w") as f:
        f.write("{ not json")
    with pytest.raises(ValueError) as err:
        build(toy_copy, "val")
    assert path in str(err.value)


def test_image_and_label_of_different_sizes(toy_copy):
    import cv2

    ds = build(toy_copy)
    path = ds.records[0]["image_path"]
    cv2.imwrite(path, np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="10x12") as err:
        ds[0]
    assert path in str(err.value)


def test_bad_arguments(toy_cityscapes_root):
    with pytest.raises(ValueError, match="'test'"):
        CityscapesPanoptic([T.Normalize()], toy_cityscapes_root, mode="test")
    with pytest.raises(TypeError, match="list of transform"):
        CityscapesPanoptic(None, toy_cityscapes_root)


def test_prepare_checks_the_layout(tmp_path, toy_copy):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_layout(str(tmp_path / "nowhere"))
    shutil.rmtree(os.path.join(toy_copy, "leftImg8bit", "val"))
    with pytest.raises(FileNotFoundError, match="leftImg8bit_trainvaltest.zip") as err:
        check_layout(toy_copy)
    assert os.path.join(toy_copy, "leftImg8bit", "val") in str(err.value)
    # Splits without any data are skipped; converting a split without annotations is an error
    # raised before cityscapesScripts could exit the process.
    assert check_layout(toy_copy, ("train", "test")) == ["train"]
    with pytest.raises(FileNotFoundError, match="instanceIds"):
        convert_to_panoptic(toy_copy, ["test"])


def test_prepare_reconverts_the_splits_present(toy_copy, capsys):
    json_path = os.path.join(toy_copy, "gtFine", "cityscapes_panoptic_train_trainId.json")
    with open(json_path) as f:
        before = json.load(f)
    os.remove(json_path)
    assert prepare_cityscapes(toy_copy, ("train", "val", "test")) == [
        json_path, json_path.replace("_train_", "_val_")]
    with open(json_path) as f:
        assert json.load(f) == before
    assert capsys.readouterr().out == ""  # the converter's progress output is swallowed
