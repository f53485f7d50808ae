"""The synthetic Cityscapes: layout, label conventions, scene content, determinism, tool."""
import glob
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from paddleseg_panoptic.datasets.toy_cityscapes import make_toy_cityscapes

from conftest import TOY_HEIGHT, TOY_NUM_TRAIN, TOY_NUM_VAL, TOY_WIDTH

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digest(root):
    files = sorted(glob.glob(os.path.join(root, "**", "*.*"), recursive=True))
    return {os.path.relpath(f, root): hashlib.md5(open(f, "rb").read()).hexdigest()
            for f in files}


def test_layout_and_naming(toy_cityscapes_root):
    root = toy_cityscapes_root
    for split, count in (("train", TOY_NUM_TRAIN), ("val", TOY_NUM_VAL)):
        images = sorted(glob.glob(os.path.join(root, "leftImg8bit", split, "*", "*.png")))
        assert len(images) == count
        for image in images:
            city = os.path.basename(os.path.dirname(image))
            name = os.path.basename(image)[:-len("_leftImg8bit.png")]
            assert name.startswith(city + "_") and len(name.split("_")) == 3
            gt = os.path.join(root, "gtFine", split, city, name + "_gtFine_")
            for suffix in ("labelIds", "instanceIds", "labelTrainIds", "color"):
                assert os.path.isfile(gt + suffix + ".png"), suffix
            assert os.path.isfile(os.path.join(
                root, "gtFine", "cityscapes_panoptic_{}_trainId".format(split),
                name + "_gtFine_panoptic.png"))
            assert Image.open(image).size == (TOY_WIDTH, TOY_HEIGHT)
            assert Image.open(image).mode == "RGB"
        with open(os.path.join(root, "gtFine",
                               "cityscapes_panoptic_{}_trainId.json".format(split))) as f:
            assert len(json.load(f)["annotations"]) == count


def test_label_conventions(toy_cityscapes_root):
    from cityscapesscripts.helpers.labels import id2label

    for gt in glob.glob(os.path.join(toy_cityscapes_root, "gtFine", "*", "*",
                                     "*_instanceIds.png")):
        inst = np.array(Image.open(gt)).astype(np.int64)
        label = np.array(Image.open(gt.replace("instanceIds", "labelIds")))
        train = np.array(Image.open(gt.replace("instanceIds", "labelTrainIds")))
        # Instance ids are labelId * 1000 + k, other pixels the plain label id.
        np.testing.assert_array_equal(np.where(inst >= 1000, inst // 1000, inst), label)
        for lid in np.unique(label):
            info = id2label[int(lid)]
            assert (train[label == lid] == (info.trainId if info.trainId >= 0 else 255)).all()
            if not info.hasInstances:
                assert (inst[label == lid] < 1000).all()


def test_scenes_have_what_a_panoptic_model_needs(toy_cityscapes_root):
    segments, crowd, cut, thing_classes = 0, 0, 0, set()
    for split in ("train", "val"):
        with open(os.path.join(toy_cityscapes_root, "gtFine",
                               "cityscapes_panoptic_{}_trainId.json".format(split))) as f:
            content = json.load(f)
        for ann in content["annotations"]:
            things = [s for s in ann["segments_info"] if s["category_id"] >= 11]
            segments += len(ann["segments_info"])
            crowd += sum(s["iscrowd"] for s in things)
            thing_classes |= {s["category_id"] for s in things if not s["iscrowd"]}
            for s in things:
                x, y, w, h = s["bbox"]
                cut += x == 0 or y == 0 or x + w == TOY_WIDTH or y + h == TOY_HEIGHT
            pan = np.array(Image.open(os.path.join(
                toy_cityscapes_root, "gtFine", "cityscapes_panoptic_{}_trainId".format(split),
                ann["file_name"])))
            stuff = {s["category_id"] for s in ann["segments_info"] if s["category_id"] < 11}
            assert {0, 1, 2, 10} <= stuff  # road, sidewalk, building, sky in every scene
    assert crowd >= 1 and cut >= 1 and len(thing_classes) >= 3
    assert segments / (TOY_NUM_TRAIN + TOY_NUM_VAL) >= 10


def test_void_pixels_exist(toy_cityscapes_root):
    found = False
    for path in glob.glob(os.path.join(toy_cityscapes_root, "gtFine", "*_trainId", "*.png")):
        found |= bool((np.array(Image.open(path)) == 0).all(axis=-1).any())
    assert found


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    kwargs = dict(num_train=2, num_val=1, height=48, width=80)
    make_toy_cityscapes(str(tmp_path / "a"), seed=3, **kwargs)
    make_toy_cityscapes(str(tmp_path / "b"), seed=3, **kwargs)
    make_toy_cityscapes(str(tmp_path / "c"), seed=4, **kwargs)
    a, b, c = (digest(str(tmp_path / n)) for n in "abc")
    assert a == b and len(a) == 3 * 5 + 3 + 2  # 5 PNGs and 1 panoptic PNG per image, 2 json
    assert set(a) == set(c) and a != c


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="at least 32x32"):
        make_toy_cityscapes(str(tmp_path), height=16)
    with pytest.raises(ValueError, match="at least one"):
        make_toy_cityscapes(str(tmp_path), num_train=0, num_val=0)


def test_tool_runs_from_the_repository_root(tmp_path):
    out = str(tmp_path / "toy")
    result = subprocess.run(
        [sys.executable, "tools/make_toy_cityscapes.py", "--out", out, "--num-train", "1",
         "--num-val", "0", "--height", "40", "--width", "64", "--seed", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "1 train images" in result.stdout
    assert os.path.isfile(os.path.join(out, "gtFine", "cityscapes_panoptic_train_trainId.json"))
    assert not os.path.exists(os.path.join(out, "gtFine", "cityscapes_panoptic_val_trainId.json"))


def _scenes(style, count, height=96, width=192, seed=0):
    from paddleseg_panoptic.datasets.toy_cityscapes import make_scene, render_image

    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        label, instance = make_scene(rng, height, width, style)
        out.append((label, instance, render_image(rng, label, instance, style)))
    return out


def _colour_only_accuracy(train, test):
    """Pixel accuracy of the best rule that looks at one pixel's colour only: each colour
    (quantised to 8 levels per channel) gets the label id seen most often with it."""
    def codes(image):
        q = image.astype(np.int64) // 32
        return (q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]).ravel()

    table = np.zeros((512, 256), dtype=np.int64)
    for label, _, image in train:
        np.add.at(table, (codes(image), label.ravel()), 1)
    guess = table.argmax(axis=1)
    hits = [guess[codes(image)] == label.ravel() for label, _, image in test]
    return float(np.concatenate(hits).mean())


def test_hard_scenes_are_not_separable_by_colour():
    # A rule fitted on colour alone, scored on other scenes of the same style.
    easy = _colour_only_accuracy(_scenes("easy", 6), _scenes("easy", 4, seed=1))
    hard = _colour_only_accuracy(_scenes("hard", 6), _scenes("hard", 4, seed=1))
    assert easy > 0.85 and hard < 0.6, (easy, hard)


def test_hard_scenes_vary_colour_within_a_class_and_overlap_things():
    means, overlapping = [], 0
    for label, instance, image in _scenes("hard", 8):
        cars = [i for i in np.unique(instance) if i // 1000 == 26]  # car label id
        means += [image[instance == i].mean(axis=0) for i in cars]
        for i in np.unique(instance[instance >= 1000]):
            ys, xs = np.nonzero(instance == i)
            box = instance[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            overlapping += bool(((box >= 1000) & (box != i)).any())
    assert len(means) >= 4 and np.std(means, axis=0).mean() > 25  # not one car colour
    assert overlapping >= 4  # groups: instances in front of others


def test_hard_scenes_draw_few_classes_and_no_thin_ones():
    from cityscapesscripts.helpers.labels import name2label

    from paddleseg_panoptic.datasets.toy_cityscapes import HARD_THINGS

    labels = set()
    for label, instance, _ in _scenes("hard", 12):
        labels |= set(np.unique(label).tolist())
        things = {int(i) // 1000 for i in np.unique(instance[instance >= 1000])}
        assert things <= {name2label[n].id for n in HARD_THINGS}
    thin = {name2label[n].id for n in ("pole", "traffic sign", "traffic light", "fence", "wall")}
    assert not labels & thin
    assert {name2label[n].id for n in ("car", "person", "road", "sky", "building")} <= labels


def test_hard_style_files_follow_the_conventions(tmp_path):
    from cityscapesscripts.helpers.labels import id2label

    make_toy_cityscapes(str(tmp_path), num_train=2, num_val=1, height=64, width=128,
                        style="hard")
    for gt in glob.glob(os.path.join(str(tmp_path), "gtFine", "*", "*", "*_instanceIds.png")):
        inst = np.array(Image.open(gt)).astype(np.int64)
        label = np.array(Image.open(gt.replace("instanceIds", "labelIds")))
        np.testing.assert_array_equal(np.where(inst >= 1000, inst // 1000, inst), label)
        assert all(id2label[int(i // 1000)].hasInstances for i in np.unique(inst[inst >= 1000]))


def test_easy_is_the_default_style_and_bad_styles_are_refused(tmp_path):
    kwargs = dict(num_train=1, num_val=1, height=40, width=64, seed=2)
    make_toy_cityscapes(str(tmp_path / "default"), **kwargs)
    make_toy_cityscapes(str(tmp_path / "easy"), style="easy", **kwargs)
    make_toy_cityscapes(str(tmp_path / "hard"), style="hard", **kwargs)
    default, easy, hard = (digest(str(tmp_path / n)) for n in ("default", "easy", "hard"))
    assert default == easy and set(hard) == set(easy) and hard != easy
    with pytest.raises(ValueError, match="unknown toy style 'medium'"):
        make_toy_cityscapes(str(tmp_path / "x"), style="medium", **kwargs)
