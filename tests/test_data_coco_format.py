"""PanopticDataset on a non-Cityscapes set (non-contiguous category ids, two image sizes): class
facts from the json, samples by the per-segment definition, bad input named, the official
panoptic evaluator agreeing with ours, and train / val --official / predict end to end."""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import paddleseg.transforms as T
import pytest

from paddleseg_panoptic.cvlibs.config import Config
from paddleseg_panoptic.datasets import PanopticDataset
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.datasets.toy_coco import CATEGORIES, SIZES
from paddleseg_panoptic.evaluation.official_panoptic import PanopticOfficialWriter
from paddleseg_panoptic.evaluation.panoptic import PanopticEvaluator
from paddleseg_panoptic.transforms import PadToDivisor, rgb2id

from conftest import TOY_COCO_NUM_TRAIN, TOY_COCO_NUM_VAL

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "configs", "quick_start", "panoptic_deeplab_resnet18_os32_toy_coco.yml")


def build(root, mode="val", transforms=None, **kwargs):
    if transforms is None:
        transforms = [PadToDivisor(), T.Normalize()] if mode == "val" else [T.Normalize()]
    return PanopticDataset(transforms, root, "annotations/panoptic_{}.json".format(mode),
                           "images/" + mode, "panoptic/" + mode, mode=mode, **kwargs)


@pytest.fixture
def coco_copy(toy_coco_root, tmp_path):
    root = str(tmp_path / "toy_coco")
    shutil.copytree(toy_coco_root, root)
    return root


def test_class_facts_come_from_the_categories(toy_coco_root):
    ds = build(toy_coco_root)
    assert ds.num_classes == 6
    assert ds.category_ids == [3, 7, 12, 21, 34, 40]
    assert ds.thing_list == [3, 4, 5]
    assert ds.class_names == ["sky", "grass", "water", "ball", "box", "kite"]
    assert ds.palette == [c["color"] for c in CATEGORIES]
    facts = DatasetFacts.from_dataset(ds)
    assert facts.num_classes == 6 and facts.thing_list == (3, 4, 5)
    assert facts.category_ids == (3, 7, 12, 21, 34, 40) and facts.label_divisor == 1000
    # Without building the dataset (prediction) and for the model's num_classes.
    cfg = Config(CONFIG, opts=["train_dataset.dataset_root=" + toy_coco_root,
                               "val_dataset.dataset_root=" + toy_coco_root])
    config_facts = DatasetFacts.from_config(cfg)
    assert config_facts == DatasetFacts(**dict(vars(facts), stuff_area=64))
    assert cfg.model_dic["num_classes"] == 6
    # Neither json there: the error names the file and why it is needed.
    nowhere = Config(CONFIG, opts=["train_dataset.dataset_root=/nowhere",
                                   "val_dataset.dataset_root=/nowhere"])
    with pytest.raises(FileNotFoundError, match="num_classes") as err:
        nowhere.model_dic
    assert "/nowhere/annotations/panoptic_train.json" in str(err.value)


def test_generated_palette_when_categories_have_no_colour(coco_copy):
    path = os.path.join(coco_copy, "annotations", "panoptic_val.json")
    with open(path) as f:
        data = json.load(f)
    for c in data["categories"]:
        del c["color"]
    with open(path, "w") as f:
        json.dump(data, f)
    palette = build(coco_copy).palette
    assert len(palette) == 6 and len({tuple(c) for c in palette}) == 6
    assert all(0 <= v <= 255 for c in palette for v in c)


def slow_raw_labels(label_rgb, segments, thing_list, divisor=1000):
    """The definition, one segment at a time (category ids already train ids)."""
    ids = rgb2id(label_rgb)
    semantic = np.full(ids.shape, 255, np.int64)
    panoptic = np.full(ids.shape, 255, np.int64)
    k = 0
    for s in segments:
        mask = ids == s["id"]
        semantic[mask] = s["category_id"]
        if s["category_id"] in thing_list and not s["iscrowd"]:
            k += 1
            panoptic[mask] = s["category_id"] * divisor + k
        else:
            panoptic[mask] = s["category_id"]
    instance = np.zeros(ids.shape, np.int64)
    for n, value in enumerate(sorted(v for v in np.unique(panoptic) if divisor < v), start=1):
        instance[panoptic == value] = n
    return semantic, instance, panoptic


def test_val_samples_both_sizes_padded_per_image(toy_coco_root):
    ds = build(toy_coco_root)
    assert len(ds) == TOY_COCO_NUM_VAL
    seen_sizes, crowd = set(), 0
    for i, record in enumerate(ds.records):
        sample = ds[i]
        label = cv2.cvtColor(cv2.imread(record["label_path"]), cv2.COLOR_BGR2RGB)
        height, width = label.shape[:2]
        seen_sizes.add((height, width))
        # The next 32k + 1 of each side: 96 x 160 -> 97 x 161, 128 x 128 -> 129 x 129.
        assert sample["image"].shape == (3, (height - 1) // 32 * 32 + 33,
                                         (width - 1) // 32 * 32 + 33)
        expected = slow_raw_labels(label, record["segments_info"], ds.thing_list)
        for key, value in zip(("raw_semantic", "raw_instance", "raw_panoptic"), expected):
            np.testing.assert_array_equal(sample[key], value, err_msg=key)
        crowd += sum(s["iscrowd"] for s in record["segments_info"])
        # Category ids were turned into train ids.
        assert {s["category_id"] for s in record["segments_info"]} <= set(range(6))
    assert seen_sizes == set(SIZES)
    assert crowd > 0


def test_train_samples_from_images_of_two_sizes_stack(toy_coco_root):
    crop = [T.RandomPaddingCrop(crop_size=[97, 97], label_padding_value=[0, 0, 0]),
            T.Normalize()]
    ds = build(toy_coco_root, "train", crop)
    assert len(ds) == TOY_COCO_NUM_TRAIN
    samples = [ds[i] for i in range(len(ds))]
    for sample in samples:
        assert sample["image"].shape == (3, 97, 97) and sample["semantic"].shape == (97, 97)
        assert set(np.unique(sample["semantic"])) <= set(range(6)) | {255}
    assert any(s["foreground"].any() for s in samples)


# ---------------------------------------------------------------------------- bad input
def _edit_json(root, change, mode="val"):
    path = os.path.join(root, "annotations", "panoptic_{}.json".format(mode))
    with open(path) as f:
        data = json.load(f)
    change(data)
    with open(path, "w") as f:
        json.dump(data, f)
    return path


def test_unknown_category_id_names_image_and_id(coco_copy):
    def change(data):
        data["annotations"][1]["segments_info"][0]["category_id"] = 99
    _edit_json(coco_copy, change)
    with pytest.raises(ValueError, match="category id 99") as err:
        build(coco_copy)
    assert "val_0001.png" in str(err.value) and "image 2" in str(err.value)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["categories"].append(dict(d["categories"][0])), "category id 3 is listed twice"),
    (lambda d: d["categories"][4].pop("isthing"), "has no 'isthing'"),
    (lambda d: d.pop("annotations"), "not a COCO panoptic annotation file"),
])
def test_bad_categories_or_json_name_the_file(coco_copy, change, message):
    path = _edit_json(coco_copy, change)
    with pytest.raises(ValueError, match=message) as err:
        build(coco_copy)
    assert path in str(err.value)


def test_segment_id_missing_from_segments_info_names_image_and_id(coco_copy):
    def change(data):
        data["annotations"][2]["segments_info"].pop(0)
    _edit_json(coco_copy, change)
    ds = build(coco_copy)
    with pytest.raises(ValueError, match=r"segment id\(s\) \[1\]") as err:
        ds[2]
    assert "image 3" in str(err.value) and "val_0002.png" in str(err.value)
    ds[1]  # the other samples still load


def test_missing_files_and_sizes_are_named(coco_copy):
    ds = build(coco_copy)
    image, label = ds.records[0]["image_path"], ds.records[1]["label_path"]
    os.remove(image)
    with pytest.raises(FileNotFoundError) as err:
        build(coco_copy)
    assert image in str(err.value)
    shutil.copy(ds.records[1]["image_path"], image)   # an image of the other size
    with pytest.raises(ValueError, match="128x128 but its label .* is 96x160") as err:
        build(coco_copy)[0]
    assert image in str(err.value)
    os.remove(label)
    with pytest.raises(FileNotFoundError, match="convert_to_coco_panoptic") as err:
        build(coco_copy)
    assert label in str(err.value)


# ---------------------------------------------------------------------------- official
@pytest.mark.parametrize("perturb", [False, True])
def test_official_panoptic_equals_ours(toy_coco_root, tmp_path, perturb):
    ds = build(toy_coco_root, transforms=[])
    writer = ds.official_writer(str(tmp_path / "official"))
    assert isinstance(writer, PanopticOfficialWriter)
    ours = PanopticEvaluator(ds.num_classes, ds.thing_list)
    rng = np.random.default_rng(3)
    for i, record in enumerate(ds.records):
        gt = ds[i]["raw_panoptic"]
        pan = gt.copy()
        if perturb:
            instances = np.unique(pan[(pan > 1000) & (pan != 255)])
            if instances.size:
                pan[pan == instances[0]] = 1              # an instance missed (-> grass)
            pan[5:25, 5:45] = 4999                        # a spurious box
            noise = rng.random(pan.shape) < 0.05
            pan[noise] = rng.integers(0, 3, noise.sum())  # stray stuff pixels
            pan[40:44, 40:44] = 255                       # predicted void
            pan[60:70, 10:20] = 4                         # box pixels without an instance
            pan[70:80, 10:20] = 5000                      # a kite with instance number 0
        writer.add(str(record["image_id"]), pan)
        ours.update(pan, gt)
    official = writer.run()
    mine = ours.evaluate()["pan_seg"]
    for group in ("All", "Things", "Stuff"):
        for key in ("pq", "sq", "rq", "n"):
            assert mine[group][key] == pytest.approx(official["pan_seg"][group][key],
                                                     abs=1e-9), (group, key)
    assert set(official["pan_seg"]["per_class"]) == set(range(6))
    if perturb:
        assert official["PQ"] < 0.9
    else:
        assert official["PQ"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------- tools
def _run(tool, args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(REPO, "tools", tool)] + args,
                          cwd=str(cwd), env=env, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, "{} failed:\n{}\n{}".format(tool, proc.stdout[-3000:],
                                                             proc.stderr[-3000:])
    return proc


def test_train_validate_official_and_predict_from_one_config(toy_coco_root, tmp_path):
    opts = ["--opts", "train_dataset.dataset_root=" + toy_coco_root,
            "val_dataset.dataset_root=" + toy_coco_root]
    common = ["--config", CONFIG, "--device", "cpu"]
    save = tmp_path / "train"
    _run("train.py", common + ["--save_dir", str(save), "--iters", "2", "--batch_size", "2",
                               "--seed", "1"] + opts, tmp_path)
    model = str(save / "iter_2" / "model.pdparams")
    results = tmp_path / "val.json"
    proc = _run("val.py", common + ["--model_path", model, "--official",
                                    str(tmp_path / "official"), "--save_json", str(results)]
                + opts[:1] + opts[2:], tmp_path)
    assert "kite" in proc.stderr + proc.stdout   # the tables name the dataset's classes
    with open(results) as f:
        numbers = json.load(f)
    assert numbers["num_images"] == TOY_COCO_NUM_VAL
    for key in ("pq", "sq", "rq", "n"):
        assert numbers["pan_seg"]["All"][key] == pytest.approx(
            numbers["official"]["pan_seg"]["All"][key], abs=1e-9)
    out = tmp_path / "pred"
    _run("predict.py", common + ["--model_path", model, "--image_path",
                                 os.path.join(toy_coco_root, "images", "val"),
                                 "--save_dir", str(out)] + opts[:1] + opts[2:], tmp_path)
    with open(out / "segments" / "val_0001.json") as f:
        doc = json.load(f)
    assert (doc["height"], doc["width"]) == SIZES[1]
    assert doc["category_ids"] == [3, 7, 12, 21, 34, 40]
    names = ["sky", "grass", "water", "ball", "box", "kite"]
    for segment in doc["segments_info"]:
        assert segment["category_name"] == names[segment["category_id"]]
        assert segment["isthing"] == (segment["category_id"] >= 3)
    picture = cv2.cvtColor(cv2.imread(str(out / "semantic" / "val_0001.png")),
                           cv2.COLOR_BGR2RGB)
    colours = {tuple(c) for c in np.unique(picture.reshape(-1, 3), axis=0).tolist()}
    assert colours <= {tuple(c["color"]) for c in CATEGORIES}


def test_coco_config_takes_its_classes_from_the_json(toy_coco_root):
    """The COCO recipe config on the toy set's files: classes, transforms and facts."""
    config = os.path.join(REPO, "configs", "panoptic_deeplab",
                          "panoptic_deeplab_resnet50_os32_coco_641x641_bs8x8_200k_lr00005.yml")
    opts = []
    for key in ("train_dataset", "val_dataset"):
        split = key.split("_")[0]
        opts += ["{}.dataset_root={}".format(key, toy_coco_root),
                 "{}.json_path=annotations/panoptic_{}.json".format(key, split),
                 "{}.image_dir=images/{}".format(key, split),
                 "{}.label_dir=panoptic/{}".format(key, split)]
    cfg = Config(config, opts=opts)
    assert cfg.model_dic["num_classes"] == 6 and cfg.batch_size == 8 and cfg.iters == 200000
    facts = DatasetFacts.from_config(cfg)
    assert facts.stuff_area == 4096 and facts.category_ids == (3, 7, 12, 21, 34, 40)
    sample = cfg.train_dataset[0]
    assert sample["image"].shape == (3, 641, 641)
    assert cfg.val_dataset[0]["image"].shape == (3, 97, 161)


def test_make_toy_coco_tool_is_deterministic(tmp_path, capsys, load_tool):
    tool = load_tool("make_toy_coco")
    for out in ("a", "b"):
        tool.main(["--out", str(tmp_path / out), "--num-train", "2", "--num-val", "1"])
    assert "train: 2 images" in capsys.readouterr().out
    files = sorted(os.path.relpath(os.path.join(d, f), str(tmp_path / "a"))
                   for d, _, names in os.walk(str(tmp_path / "a")) for f in names)
    assert "annotations/panoptic_val.json" in files and "images/train/train_0001.jpg" in files
    for name in files:
        with open(os.path.join(str(tmp_path / "a"), name), "rb") as a, \
                open(os.path.join(str(tmp_path / "b"), name), "rb") as b:
            assert a.read() == b.read(), name


def test_training_and_validation_sets_must_share_their_classes(coco_copy, toy_cityscapes_root):
    from paddleseg_panoptic.datasets import CityscapesPanoptic
    from paddleseg_panoptic.datasets.facts import check_same_classes

    train = build(coco_copy, "train")
    check_same_classes(train, build(coco_copy))
    with pytest.raises(ValueError, match="num_classes: 6 vs 19"):
        check_same_classes(train, CityscapesPanoptic([], toy_cityscapes_root, mode="val"))

    def change(data):
        data["categories"][0]["id"] = 4
        for annotation in data["annotations"]:
            for segment in annotation["segments_info"]:
                if segment["category_id"] == 3:
                    segment["category_id"] = 4
    _edit_json(coco_copy, change)
    with pytest.raises(ValueError, match=r"category_ids: \(3, 7, .*\) vs \(4, 7, "):
        check_same_classes(train, build(coco_copy))
