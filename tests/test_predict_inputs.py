"""Image listing, reading, padding and the command line of tools/predict.py."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from paddleseg.transforms import Normalize, Padding

from paddleseg_panoptic.core import predict as P
from paddleseg_panoptic.utils import image_list as L

REPO = Path(__file__).resolve().parents[1]


def _touch_image(path, h=4, w=6):
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", np.zeros((h, w, 3), np.uint8))
    data.tofile(str(path))


def test_list_folder_recursive_any_case_sorted(tmp_path):
    for name in ("b.PNG", "a.jpg", "z/y.JpEg", "z/x.tif", "m/n.webp", "k.bmp"):
        _touch_image(tmp_path / name)
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "z" / "data.npy").write_bytes(b"x")
    items = L.list_images(str(tmp_path))
    assert [i.rel for i in items] == ["a", "b", "k", "m/n", "z/x", "z/y"]
    assert items[0].path == str(tmp_path / "a.jpg")


def test_output_folder_inside_the_input_folder_is_not_searched(tmp_path):
    _touch_image(tmp_path / "a.png")
    _touch_image(tmp_path / "output" / "result" / "semantic" / "a.png")
    _touch_image(tmp_path / "outputs" / "kept.png")
    items = L.list_images(str(tmp_path))
    assert [i.rel for i in items] == ["a", "output/result/semantic/a", "outputs/kept"]
    # only the excluded folder itself is pruned, not a sibling sharing its name's prefix
    items = L.list_images(str(tmp_path), exclude_dir=str(tmp_path / "output" / "result"))
    assert [i.rel for i in items] == ["a", "outputs/kept"]


def test_list_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        L.list_images(str(tmp_path / "nowhere"))
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="No images found in --image_path .*empty"):
        L.list_images(str(tmp_path / "empty"))
    (tmp_path / "empty.txt").write_text("# only a comment\n\n")
    with pytest.raises(ValueError, match="No images found in --image_path .*empty.txt"):
        L.list_images(str(tmp_path / "empty.txt"))
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="blob.bin is neither an image"):
        L.list_images(str(tmp_path / "blob.bin"))


def test_same_output_name_is_refused(tmp_path):
    _touch_image(tmp_path / "dup.png")
    _touch_image(tmp_path / "dup.jpg")
    with pytest.raises(ValueError, match="dup.*dup.*same output files"):
        L.list_images(str(tmp_path))


def test_list_file_paths_relative_to_its_folder(tmp_path):
    _touch_image(tmp_path / "lists" / "imgs" / "a.png")
    _touch_image(tmp_path / "elsewhere" / "b.png")
    listing = tmp_path / "lists" / "l.txt"
    listing.write_text("imgs/a.png\n{}\nmissing.png\n".format(tmp_path / "elsewhere" / "b.png"))
    items = L.list_images(str(listing))
    # a missing listed file is kept: it is reported as unreadable with the others
    assert [(i.path, i.rel) for i in items] == [
        (str(tmp_path / "lists" / "imgs" / "a.png"), "imgs/a"),
        (str(tmp_path / "elsewhere" / "b.png"), "b"),
        (str(tmp_path / "lists" / "missing.png"), "missing")]


def test_read_image_errors_and_grey(tmp_path):
    with pytest.raises(L.ImageReadError, match="missing.png"):
        L.read_image(str(tmp_path / "missing.png"))
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(L.ImageReadError, match="empty.png"):
        L.read_image(str(tmp_path / "empty.png"))
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((3, 5), 77, np.uint8))
    image = L.read_image(str(tmp_path / "grey.png"))
    assert image.shape == (3, 5, 3) and (image == 77).all()


@pytest.mark.parametrize("size, align, expected", [
    (1025, True, 1025), (1024, True, 1025), (2048, True, 2049), (33, True, 33),
    (34, True, 65), (1, True, 33), (512, True, 513),
    (32, False, 32), (33, False, 64), (1, False, 32)])
def test_padded_size(size, align, expected):
    assert P.padded_size(size, align) == expected


def test_prepare_input_normalises_rgb_and_pads_with_zero():
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    bgr[0, 0] = (0, 0, 51)  # red 51
    transforms = P.prediction_transforms([Padding(target_size=[8, 8]), Normalize()])
    assert [type(t).__name__ for t in transforms.transforms] == ["Normalize"]
    x = P.prepare_input(bgr, transforms, align_corners=True)
    assert x.shape == (3, 33, 33) and x.dtype == np.float32
    # channel order R, G, B; (v / 255 - 0.5) / 0.5
    assert x[:, 0, 0].tolist() == pytest.approx([51 / 127.5 - 1, -1.0, -1.0])
    assert x[:, 1, 2].tolist() == pytest.approx([-1.0, -1.0, 1.0])
    assert (x[:, 2:, :] == 0).all() and (x[:, :, 3:] == 0).all()


def test_no_val_transforms_means_reference_normalize():
    transforms = P.prediction_transforms([])
    x = P.prepare_input(np.full((2, 2, 3), 255, np.uint8), transforms, align_corners=False)
    assert x.shape == (3, 32, 32)
    assert (x[:, :2, :2] == 1.0).all() and (x[:, 2:] == 0).all()


def test_size_changing_transform_is_refused():
    from paddleseg.transforms import Resize
    transforms = P.prediction_transforms([Resize(target_size=(8, 8))])
    with pytest.raises(ValueError, match="changed the image size"):
        P.prepare_input(np.zeros((4, 6, 3), np.uint8), transforms, align_corners=True)


def test_output_paths_names():
    paths = P.output_paths("out", "sub/x")
    assert {k: Path(v).as_posix() for k, v in paths.items()} == {
        "semantic": "out/semantic/sub/x.png",
        "semantic_added": "out/semantic/sub/x_add.png",
        "panoptic_to_semantic": "out/semantic/sub/x_panoptic_to_semantic.png",
        "panoptic_to_semantic_added": "out/semantic/sub/x_panoptic_to_semantic_added.png",
        "instance": "out/instance/sub/x.png",
        "instance_added": "out/instance/sub/x_added.png",
        "panoptic": "out/panoptic/sub/x.png",
        "panoptic_added": "out/panoptic/sub/x_added.png",
        "panoptic_ids": "out/panoptic_ids/sub/x.png",
        "segments": "out/segments/sub/x.json",
    }


def _tool(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, "tools/predict.py"] + list(args), cwd=str(REPO),
                          env=env, capture_output=True, text=True, timeout=120)


def test_cli_help_and_no_images_error(tmp_path):
    proc = _tool("--help")
    assert proc.returncode == 0
    for option in ("--config", "--model_path", "--image_path", "--save_dir", "--threshold",
                   "--nms_kernel", "--top_k", "--device", "--opts"):
        assert option in proc.stdout
    assert "default: 0.1" in proc.stdout and "default: 7" in proc.stdout
    assert "default: 200" in proc.stdout and "./output/result" in proc.stdout
    (tmp_path / "nothing").mkdir()
    proc = _tool("--config", "unused.yml", "--model_path", "unused.pdparams", "--image_path",
                 str(tmp_path / "nothing"))
    assert proc.returncode == 2
    assert "No images found in --image_path {}".format(tmp_path / "nothing") in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _tool("--config", "c.yml", "--model_path", "m", "--image_path", "x",
                 "--nms_kernel", "4")
    assert proc.returncode == 2 and "--nms_kernel must be a positive odd number" in proc.stderr
