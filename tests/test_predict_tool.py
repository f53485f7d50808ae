"""tools/predict.py end to end on a tiny random model: files, sizes, colours, ids, JSON,
reruns and two processes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest

from paddleseg_panoptic.core import predict as P
from paddleseg_panoptic.cvlibs.config import Config
from paddleseg_panoptic.datasets import meta
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.utils import visualize as vis
from paddleseg_panoptic.utils.panoptic_ids import rgb2id

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "configs" / "quick_start" / "panoptic_deeplab_resnet18_os32_toy.yml"
# (H, W) of the toy images; odd, even, tiny and wide sizes, one nested folder, mixed-case
# suffixes.
SIZES = {"a.png": (40, 70), "sub/deep/b.JPG": (100, 64), "c.bmp": (33, 33),
         "d.PNG": (1, 5), "sub/e.jpeg": (17, 130)}
CORRUPT = "sub/broken.png"
STUFF_AREA = 200
KINDS = ("semantic", "semantic_added", "panoptic_to_semantic", "panoptic_to_semantic_added",
         "instance", "instance_added", "panoptic", "panoptic_added", "panoptic_ids")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*"))
            if p.is_file()}


def _biased_model(cfg):
    """A random model whose outputs hold road, building and many car instances."""
    paddle.seed(0)
    model = cfg.build_model(load_pretrained=False)
    state = model.state_dict()
    bias = np.zeros(meta.NUM_CLASSES, "float32")
    bias[[0, 2, 11, 13]] = 3.0
    state["head.semantic_head.classifier.0.1.bias"].set_value(bias)
    # A flat heatmap of about 0.5: local maxima of the noise become centres.
    state["head.instance_head.classifier.0.1.bias"].set_value(np.array([0.5], "float32"))
    model.eval()
    return model


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    images = root / "images"
    rng = np.random.RandomState(0)
    for name, (h, w) in SIZES.items():
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        noise = cv2.GaussianBlur(rng.randint(0, 256, (h, w, 3)).astype("uint8"), (0, 0), 3)
        ok, data = cv2.imencode(os.path.splitext(name)[1].lower(), noise)
        assert ok
        data.tofile(str(images / name))
    (images / CORRUPT).write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    (images / "notes.txt").write_text("not an image, not listed")
    config = root / "toy_predict.yml"
    config.write_text("_base_: {}\nval_dataset:\n  stuff_area: {}\n".format(
        TOY.as_posix(), STUFF_AREA))
    cfg = Config(str(config))
    model = _biased_model(cfg)
    model_path = root / "model.pdparams"
    paddle.save(model.state_dict(), str(model_path))
    return {"root": root, "images": images, "config": config, "cfg": cfg, "model": model,
            "model_path": model_path}


def _run_tool(work, save_dir, image_path=None, launch=False, model_path=None, extra=(),
              env=None):
    args = ["tools/predict.py", "--config", str(work["config"]), "--model_path",
            str(model_path or work["model_path"]), "--image_path",
            str(image_path or work["images"]), "--save_dir", str(save_dir), "--device",
            "cpu"] + list(extra)
    if launch:
        args = ["-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                str(save_dir) + "_log"] + args
    return subprocess.run([sys.executable] + args, cwd=str(REPO), env=dict(_env(), **(env or {})),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tool_run(work):
    save_dir = work["root"] / "out_tool"
    proc = _run_tool(work, save_dir)
    return proc, save_dir


def test_tool_writes_all_files_at_original_sizes_and_reports_corrupt(work, tool_run):
    proc, save_dir = tool_run
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "1 image(s) could not be read" in proc.stderr
    assert str(work["images"] / CORRUPT) in proc.stderr
    for name, (h, w) in SIZES.items():
        rel = os.path.splitext(name)[0]
        paths = P.output_paths(str(save_dir), rel)
        for kind in KINDS:
            picture = vis.read_png_rgb(paths[kind])
            assert picture.shape == (h, w, 3), (name, kind)
        doc = json.loads(Path(paths["segments"]).read_text())
        assert (doc["file_name"], doc["height"], doc["width"]) == (name, h, w)
    written = {p.relative_to(save_dir).as_posix() for p in save_dir.rglob("*") if p.is_file()}
    assert len(written) == len(SIZES) * 10
    assert not any("broken" in p or "notes" in p for p in written)


def test_outputs_match_the_post_processing(work, tool_run):
    _, save_dir = tool_run
    cfg, model = work["cfg"], work["model"]
    facts = DatasetFacts.from_config(cfg)
    assert facts.stuff_area == STUFF_AREA
    transforms = P.prediction_transforms(cfg.val_transforms)
    seen_instances = 0
    for name, (h, w) in SIZES.items():
        image = P.read_image(str(work["images"] / name))
        result = P.predict_image(model, image, transforms, facts)
        paths = P.output_paths(str(save_dir), os.path.splitext(name)[0])
        # the id PNG decodes back to the panoptic map of the post-processing
        ids = rgb2id(vis.read_png_rgb(paths["panoptic_ids"]))
        np.testing.assert_array_equal(ids, result["panoptic"])
        # the semantic picture shows the palette colour of every predicted class
        semantic_png = vis.read_png_rgb(paths["semantic"])
        palette = np.asarray(meta.PALETTE, np.uint8)
        np.testing.assert_array_equal(semantic_png, palette[result["semantic"]])
        pan_sem = vis.read_png_rgb(paths["panoptic_to_semantic"])
        np.testing.assert_array_equal(pan_sem, vis.colorize_semantic(
            vis.panoptic_to_semantic(result["panoptic"])))
        # the blend is half image, half colours
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(vis.read_png_rgb(paths["semantic_added"]),
                                      vis.blend(rgb, semantic_png))
        # every panoptic segment has its own colour; ignore is black
        panoptic_png = vis.read_png_rgb(paths["panoptic"])
        colors = {}
        for segment in np.unique(result["panoptic"]):
            pixels = np.unique(panoptic_png[result["panoptic"] == segment], axis=0)
            assert len(pixels) == 1
            colors[int(segment)] = tuple(pixels[0])
        if meta.IGNORE_INDEX in colors:
            assert colors.pop(meta.IGNORE_INDEX) == (0, 0, 0)
        assert len(set(colors.values())) == len(colors)
        # the JSON lists every segment once; areas plus ignore pixels cover the image
        doc = json.loads(Path(paths["segments"]).read_text())
        infos = doc["segments_info"]
        assert [s["id"] for s in infos] == sorted(colors)
        ignored = int((result["panoptic"] == meta.IGNORE_INDEX).sum())
        assert sum(s["area"] for s in infos) + ignored == h * w
        for s in infos:
            mask = result["panoptic"] == s["id"]
            assert s["area"] == int(mask.sum())
            if s["id"] >= meta.LABEL_DIVISOR:
                seen_instances += 1
                expected = result["semantic_softmax"][s["category_id"]][mask].mean()
                assert s["score"] == pytest.approx(float(expected), abs=1e-6)
                assert s["isthing"] and s["category_name"] == meta.CLASS_NAMES[13]
            else:
                assert s["score"] is None
    assert seen_instances > 10  # the test model does predict instances


def test_rerun_through_the_api_is_byte_identical(work, tool_run):
    _, save_dir = tool_run
    again = work["root"] / "out_api"
    failures = P.run_prediction(str(work["config"]), str(work["model_path"]),
                                str(work["images"]), save_dir=str(again), device="cpu",
                                progress=False)
    assert failures == [(str(work["images"] / CORRUPT), "cannot decode {} as an image".format(
        work["images"] / CORRUPT))]
    assert _tree(again) == _tree(save_dir)


def test_two_processes_write_the_same_files(work, tool_run):
    _, save_dir = tool_run
    dist_dir = work["root"] / "out_dist"
    proc = _run_tool(work, dist_dir, launch=True)
    logs = "".join(p.read_text(errors="replace") for p in Path(str(dist_dir) + "_log").glob("*"))
    assert proc.returncode != 0, logs[-3000:]
    assert str(work["images"] / CORRUPT) in logs
    assert "1 image(s) could not be read" in logs
    # six inputs (the corrupt one included), three for each process
    for rank in (0, 1):
        assert "Process {}/2: 3 of 6 image(s)".format(rank) in logs
    assert _tree(dist_dir) == _tree(save_dir)


def test_text_list_and_single_image(work):
    listing = work["images"] / "sub" / "list.txt"
    outside = work["root"] / "outside.png"
    cv2.imwrite(str(outside), np.full((20, 30, 3), 90, np.uint8))
    listing.write_text("# comment\n\ndeep/b.JPG\ne.jpeg label_ignored.png\n{}\n".format(outside))
    items = P.list_images(str(listing))
    assert [i.rel for i in items] == ["deep/b", "e", "outside"]
    save_dir = work["root"] / "out_list"
    assert P.run_prediction(str(work["config"]), str(work["model_path"]), str(listing),
                            save_dir=str(save_dir), device="cpu", progress=False) == []
    for rel in ("deep/b", "e", "outside"):
        assert os.path.isfile(P.output_paths(str(save_dir), rel)["panoptic_ids"])
    # the same image reached through the list gives the same bytes as through the folder
    tool_dir = work["root"] / "out_tool"
    for kind in KINDS:
        assert Path(P.output_paths(str(save_dir), "deep/b")[kind]).read_bytes() == \
            Path(P.output_paths(str(tool_dir), "sub/deep/b")[kind]).read_bytes()
    single = P.list_images(str(work["images"] / "a.png"))
    assert [(i.path, i.rel) for i in single] == [(str(work["images"] / "a.png"), "a")]


def test_model_path_mismatch_fails_before_reading_images(work, tmp_path):
    state = paddle.load(str(work["model_path"]))
    state["head.semantic_head.classifier.0.1.bias"] = np.zeros(7, "float32")
    del state["head.instance_head.classifier.1.1.bias"]
    wrong = tmp_path / "wrong.pdparams"
    paddle.save(state, str(wrong))
    save_dir = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        P.run_prediction(str(work["config"]), str(wrong), str(work["images"]),
                         save_dir=str(save_dir), device="cpu", progress=False)
    message = str(err.value)
    assert str(wrong) in message and "does not match" in message
    assert "head.semantic_head.classifier.0.1.bias" in message
    assert "head.instance_head.classifier.1.1.bias" in message
    assert not save_dir.exists()
    other = tmp_path / "other.pdparams"
    paddle.save({"something.else": np.zeros(3, "float32")}, str(other))
    with pytest.raises(ValueError, match="matches no parameter"):
        P.run_prediction(str(work["config"]), str(other), str(work["images"]),
                         save_dir=str(save_dir), device="cpu", progress=False)


def test_toy_cityscapes_val_folder(work, toy_cityscapes_root, tmp_path):
    # The toy config as it is (its dataset_root does not exist; default stuff_area), on the
    # city folders of the toy dataset's images.
    image_dir = Path(toy_cityscapes_root) / "leftImg8bit" / "val"
    save_dir = tmp_path / "out"
    assert P.run_prediction(str(TOY), str(work["model_path"]), str(image_dir),
                            save_dir=str(save_dir), device="cpu", progress=False) == []
    names = sorted(p.relative_to(image_dir).with_suffix("").as_posix()
                   for p in image_dir.rglob("*.png"))
    assert len(names) == 2 and all(n.startswith("frankfurt/") for n in names)
    for name in names:
        paths = P.output_paths(str(save_dir), name)
        assert vis.read_png_rgb(paths["panoptic"]).shape == (128, 256, 3)
        doc = json.loads(Path(paths["segments"]).read_text())
        assert doc["file_name"] == name + ".png"
        # stuff segments smaller than the default stuff_area (2048) are dropped
        assert all(s["area"] >= 2048 for s in doc["segments_info"] if not s["isthing"])


def test_url_weights_plain_tta_and_chosen_outputs(work, tool_run, tmp_path):
    # Weights from a local http server, --aug_pred at scale 1.0 without flip, only the id
    # PNGs and the JSON: exactly those files, byte-identical to the plain run's.
    from test_model_url import serve

    _, plain_dir = tool_run
    save_dir = tmp_path / "out"
    cache = tmp_path / "cache"
    env = {"PADDLESEG_PANOPTIC_CACHE": str(cache), "no_proxy": "127.0.0.1",
           "NO_PROXY": "127.0.0.1"}
    with serve(work["root"]) as (base, requests):
        proc = _run_tool(work, save_dir, model_path=base + "/model.pdparams", env=env,
                         extra=["--aug_pred", "--scales", "1.0", "--outputs", "ids,json"])
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert requests == ["/model.pdparams"]
    assert len(list(cache.rglob("model.pdparams"))) == 1
    written = _tree(save_dir)
    assert sorted({name.split("/")[0] for name in written}) == ["panoptic_ids", "segments"]
    assert written == {name: data for name, data in _tree(plain_dir).items()
                       if name.split("/")[0] in ("panoptic_ids", "segments")}


def test_flip_tta_through_the_api(work, tmp_path):
    # An image and its mirror under flip TTA give mirrored semantic maps.
    cfg, model = work["cfg"], work["model"]
    facts = DatasetFacts.from_config(cfg)
    transforms = P.prediction_transforms(cfg.val_transforms)
    image = P.read_image(str(work["images"] / "c.bmp"))    # 33 x 33: no padding
    tta = P.TTA((1.0,), flip_horizontal=True)
    result = P.predict_image(model, image, transforms, facts, tta=tta)
    mirrored = P.predict_image(model, image[:, ::-1].copy(), transforms, facts, tta=tta)
    np.testing.assert_array_equal(mirrored["semantic"], result["semantic"][:, ::-1])
    np.testing.assert_allclose(mirrored["center_heatmap"], result["center_heatmap"][:, ::-1],
                               atol=1e-6)
    with pytest.raises(ValueError, match="outputs must be a non-empty selection"):
        P.run_prediction(str(work["config"]), str(work["model_path"]), str(work["images"]),
                         save_dir=str(tmp_path / "x"), outputs="ids,pictures")
