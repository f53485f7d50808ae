"""The COCO panoptic converter on hand-made labels: both input forms, crowd, void, unknown
values, empty images, bad input, and the command line."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

from paddleseg_panoptic.datasets.convert import convert, load_categories
from paddleseg_panoptic.transforms import rgb2id

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATEGORIES = [
    {"id": 3, "name": "sky", "isthing": 0, "color": [1, 2, 3]},
    {"id": 7, "name": "grass", "isthing": 0},
    {"id": 12, "name": "water", "isthing": 0},
    {"id": 21, "name": "ball", "isthing": 1},
    {"id": 34, "name": "box", "isthing": 1},
]
SEMANTIC = np.array([[3, 3, 3, 3, 0, 99],
                     [7, 7, 21, 21, 7, 7],
                     [7, 21, 21, 34, 34, 7],
                     [12, 12, 21, 21, 12, 12]], np.uint8)
INSTANCE = np.array([[0, 0, 0, 0, 0, 0],
                     [0, 0, 5, 5, 0, 0],
                     [0, 5, 5, 2, 2, 0],
                     [0, 0, 0, 0, 0, 0]], np.uint16)
# (category, iscrowd, area, bbox [x, y, w, h]) in (category, instance) order.
EXPECTED = [(3, 0, 4, [0, 0, 4, 1]), (7, 0, 6, [0, 1, 6, 2]), (12, 0, 4, [0, 3, 6, 1]),
            (21, 1, 2, [2, 3, 2, 1]), (21, 0, 4, [1, 1, 3, 2]), (34, 0, 2, [3, 2, 2, 1])]


def write(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), array)


def read_output(out_json, out_dir, name):
    with open(out_json) as f:
        data = json.load(f)
    label = cv2.cvtColor(cv2.imread(os.path.join(out_dir, name + ".png")), cv2.COLOR_BGR2RGB)
    annotation = next(a for a in data["annotations"] if a["file_name"] == name + ".png")
    return data, annotation, rgb2id(label)


def check_segments_against_pixels(ids, segments, semantic):
    """Each segment's area, bbox and category from its pixels; every non-zero id listed."""
    assert set(np.unique(ids)) - {0} == {s["id"] for s in segments}
    for s in segments:
        rows, cols = np.nonzero(ids == s["id"])
        assert s["area"] == rows.size
        assert s["bbox"] == [cols.min(), rows.min(), cols.max() - cols.min() + 1,
                             rows.max() - rows.min() + 1]
        assert set(semantic[rows, cols]) == {s["category_id"]}


def test_semantic_and_instance_pngs(tmp_path):
    write(tmp_path / "sem" / "sub" / "a.png", SEMANTIC)
    write(tmp_path / "ins" / "sub" / "a.png", INSTANCE)
    write(tmp_path / "sem" / "b.png", np.zeros((3, 2), np.uint8))      # all void
    write(tmp_path / "ins" / "b.png", np.zeros((3, 2), np.uint16))
    write(tmp_path / "img" / "sub" / "a.jpg", np.zeros((4, 6, 3), np.uint8))
    write(tmp_path / "img" / "b.png", np.zeros((3, 2, 3), np.uint8))
    out_json, out_dir = str(tmp_path / "ann" / "pan.json"), str(tmp_path / "pan")
    report = convert(out_json, out_dir, CATEGORIES, semantic_dir=str(tmp_path / "sem"),
                     instance_dir=str(tmp_path / "ins"), image_dir=str(tmp_path / "img"))
    assert report["images"] == 2 and report["segments"] == 6
    assert report["crowd_segments"] == 1 and report["empty_images"] == ["b"]
    assert report["unknown_values"] == {99: {"pixels": 1, "images": ["sub/a"]}}
    data, annotation, ids = read_output(out_json, out_dir, "sub/a")
    assert data["categories"] == CATEGORIES
    assert data["images"][1] == {"id": 2, "height": 4, "width": 6, "file_name": "sub/a.jpg"}
    segments = annotation["segments_info"]
    assert [(s["category_id"], s["iscrowd"], s["area"], s["bbox"]) for s in segments] == \
        EXPECTED
    check_segments_against_pixels(ids, segments, SEMANTIC)
    assert ids[0, 4] == 0 and ids[0, 5] == 0          # void and the unknown value
    assert read_output(out_json, out_dir, "b")[1]["segments_info"] == []


def test_cityscapes_style_instance_ids(tmp_path):
    encoded = np.array([[7, 7, 21001, 21001],
                        [21, 21, 21002, 34000],
                        [0, 5, 12, 12]], np.uint16)
    write(tmp_path / "gt" / "x" / "x_1_gtFine_instanceIds.png", encoded)
    out_json, out_dir = str(tmp_path / "pan.json"), str(tmp_path / "pan")
    report = convert(out_json, out_dir, CATEGORIES, instance_ids_dir=str(tmp_path / "gt"))
    assert report["unknown_values"] == {5: {"pixels": 1, "images": ["x/x_1_gtFine"]}}
    data, annotation, ids = read_output(out_json, out_dir, "x/x_1_gtFine")
    semantic = np.where(encoded >= 1000, encoded // 1000, encoded)
    segments = annotation["segments_info"]
    assert [(s["category_id"], s["iscrowd"], s["area"]) for s in segments] == [
        (7, 0, 2), (12, 0, 2), (21, 1, 2), (21, 0, 2), (21, 0, 1), (34, 0, 1)]
    check_segments_against_pixels(ids, segments, semantic)


def test_categories_file_yaml_or_json_and_its_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(CATEGORIES))
    assert load_categories(str(path)) == CATEGORIES
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"categories": CATEGORIES}))
    assert load_categories(str(path)) == CATEGORIES
    path.write_text(json.dumps(CATEGORIES + [{"id": 7, "name": "again", "isthing": 0}]))
    with pytest.raises(ValueError, match="category id 7 is listed twice") as err:
        load_categories(str(path))
    assert str(path) in str(err.value)
    path.write_text(json.dumps([{"id": 1, "name": "x"}]))
    with pytest.raises(ValueError, match="has no 'isthing'"):
        load_categories(str(path))


def test_bad_label_pairs_name_the_files(tmp_path):
    write(tmp_path / "sem" / "a.png", SEMANTIC)
    write(tmp_path / "ins" / "a.png", INSTANCE[:3])
    kwargs = dict(semantic_dir=str(tmp_path / "sem"), instance_dir=str(tmp_path / "ins"))
    with pytest.raises(ValueError, match="is 4x6 but instance label .* is 3x6") as err:
        convert(str(tmp_path / "p.json"), str(tmp_path / "p"), CATEGORIES, **kwargs)
    assert str(tmp_path / "sem" / "a.png") in str(err.value)
    os.remove(tmp_path / "ins" / "a.png")
    with pytest.raises(FileNotFoundError, match="has no instance label") as err:
        convert(str(tmp_path / "p.json"), str(tmp_path / "p"), CATEGORIES, **kwargs)
    assert str(tmp_path / "ins" / "a.png") in str(err.value)


def test_command_line(tmp_path, capsys, load_tool):
    write(tmp_path / "sem" / "a.png", SEMANTIC)
    write(tmp_path / "ins" / "a.png", INSTANCE)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"categories": CATEGORIES}))
    tool = os.path.join(REPO, "tools", "convert_to_coco_panoptic.py")
    args = [sys.executable, tool, "--categories", str(tmp_path / "c.yaml"),
            "--semantic_dir", str(tmp_path / "sem"), "--instance_dir", str(tmp_path / "ins"),
            "--out_json", str(tmp_path / "p.json"), "--out_dir", str(tmp_path / "p")]
    proc = subprocess.run(args, text=True, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 images, 6 segments (1 crowd)" in proc.stdout
    assert "value 99 is no category id: 1 pixel(s) in 1 image(s)" in proc.stdout
    assert os.path.isfile(tmp_path / "p" / "a.png")
    # Errors, in-process through the same main(): exit status 2 and the path or the rule.
    module = load_tool("convert_to_coco_panoptic")
    assert module.main(args[2:] + ["--image_dir", str(tmp_path / "none")]) == 2
    assert str(tmp_path / "none" / "a") in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        module.main(args[2:4] + args[8:])
    assert err.value.code == 2
    assert "--semantic_dir with --instance_dir" in capsys.readouterr().err
