"""Video prediction frame by frame: a small video made with cv2.VideoWriter, the annotated
video, per-frame ids and JSON, --frame_stride, the tool, and the errors for an unreadable video
and a missing camera."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from paddleseg_panoptic.core import predict as P
from paddleseg_panoptic.core import stream as S
from paddleseg_panoptic.cvlibs.config import Config
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.utils import visualize as vis
from paddleseg_panoptic.utils.panoptic_ids import rgb2id
from test_predict_tool import REPO, TOY, _biased_model, _env

FRAMES, HEIGHT, WIDTH, FPS = 5, 40, 64, 10.0


def _read_all(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    path = root / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    rng = np.random.RandomState(0)
    for k in range(FRAMES):
        noise = rng.randint(0, 256, (HEIGHT, WIDTH, 3)).astype("uint8")
        writer.write(cv2.GaussianBlur(noise, (0, 0), 3))
    writer.release()
    cfg = Config(str(TOY))
    model = _biased_model(cfg)
    model_path = root / "model.pdparams"
    import paddle
    paddle.save(model.state_dict(), str(model_path))
    return {"root": root, "video": path, "cfg": cfg, "model": model, "model_path": model_path}


def test_every_second_frame_predicted_into_video_ids_and_json(clip):
    cfg, model = clip["cfg"], clip["model"]
    facts = DatasetFacts.from_config(cfg)
    transforms = P.prediction_transforms(cfg.val_transforms)
    save_dir = clip["root"] / "out"
    capture, name = S.open_video(str(clip["video"]))
    assert name == "clip"
    stats = S.predict_stream(model, capture, name, str(save_dir), transforms, facts,
                             outputs=("panoptic", "ids", "json"), frame_stride=2,
                             progress=False)
    assert (stats["frames_read"], stats["frames_predicted"]) == (FRAMES, 3)
    assert stats["video"] == str(save_dir / "clip.mp4")
    assert set(stats["seconds"]) == set(S.STAGES)
    written, fps = _read_all(save_dir / "clip.mp4")
    assert len(written) == 3 and fps == pytest.approx(FPS / 2)
    assert all(frame.shape == (HEIGHT, WIDTH, 3) for frame in written)
    inputs, _ = _read_all(clip["video"])
    for out_index, index in enumerate((0, 2, 4)):
        result = P.predict_image(model, inputs[index], transforms, facts)
        rel = "clip/frame_{:06d}".format(index)
        paths = P.output_paths(str(save_dir), rel)
        ids = rgb2id(vis.read_png_rgb(paths["panoptic_ids"]))
        np.testing.assert_array_equal(ids, result["panoptic"])
        doc = json.loads(open(paths["segments"]).read())
        assert [s["id"] for s in doc["segments_info"]] == \
            [i for i in np.unique(result["panoptic"]).tolist() if i != facts.ignore_index]
        # the video frame is the overlay (up to the codec's loss)
        expected = S.annotate(inputs[index], result, facts).astype(int)
        assert np.abs(written[out_index].astype(int) - expected).mean() < 12
    assert not (save_dir / "panoptic_ids" / "clip" / "frame_000001.png").exists()
    assert not (save_dir / "panoptic").exists()     # the panoptic kind is the video here


def test_unreadable_video_and_missing_camera_are_clear_errors(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"not a video at all" * 10)
    with pytest.raises(S.StreamError, match="cannot read video .*fake.mp4"):
        capture, name = S.open_video(str(fake))
        # some OpenCV builds open anything and fail on the first frame instead
        S.predict_stream(None, capture, name, str(tmp_path / "o"), None, progress=False,
                         source=str(fake))
    with pytest.raises(FileNotFoundError, match="video not found: .*missing.avi"):
        S.open_video(str(tmp_path / "missing.avi"))
    with pytest.raises(S.StreamError, match="cannot open camera 97"):
        S.open_camera(97)          # no machine has 98 cameras


def test_tool_on_a_video(clip, tmp_path):
    proc = subprocess.run(
        [sys.executable, "tools/predict.py", "--config", str(TOY), "--model_path",
         str(clip["model_path"]), "--save_dir", str(tmp_path), "--device", "cpu",
         "--video", str(clip["video"]), "--max_frames", "2"],
        cwd=str(REPO), env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(_read_all(tmp_path / "clip.mp4")[0]) == 2
    log = proc.stdout + proc.stderr
    assert "2 frame(s) read, 2 predicted" in log
    for stage in S.STAGES:
        assert stage in log


def test_tool_errors(clip, tmp_path, capsys, load_tool):
    tool = load_tool("predict")
    base = ["--config", str(TOY), "--model_path", str(clip["model_path"]), "--save_dir",
            str(tmp_path), "--device", "cpu"]
    assert tool.main(base + ["--camera", "97"]) == 2
    assert "predict.py: error: cannot open camera 97" in capsys.readouterr().err
    for wrong, message in ((["--video", "x.avi", "--image_path", "y"], "not allowed with"),
                           (["--video", "x.avi", "--frame_stride", "0"], "--frame_stride"),
                           (["--image_path", "y", "--outputs", "ids,png"], "ids,png"),
                           (["--image_path", "y", "--scales", "0"], "--scales")):
        with pytest.raises(SystemExit) as exit_info:
            tool.parse_args(base + wrong)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


class _Camera:
    """Stands in for a camera (this machine has none): frames of noise, no frame rate or
    count, and a Ctrl-C after ``frames`` frames."""

    def __init__(self, frames):
        self.frames, self.released = frames, False
        self.rng = np.random.RandomState(1)

    def get(self, prop):
        return 0.0

    def read(self):
        if self.frames == 0:
            raise KeyboardInterrupt
        self.frames -= 1
        return True, self.rng.randint(0, 256, (HEIGHT, WIDTH, 3)).astype("uint8")

    def release(self):
        self.released = True


def test_ctrl_c_ends_a_camera_stream_with_a_playable_video(clip, tmp_path):
    cfg = clip["cfg"]
    camera = _Camera(3)
    stats = S.predict_stream(clip["model"], camera, "camera0", str(tmp_path),
                             P.prediction_transforms(cfg.val_transforms),
                             DatasetFacts.from_config(cfg), progress=False)
    assert stats["interrupted"] and camera.released
    assert (stats["frames_read"], stats["frames_predicted"]) == (3, 3)
    frames, fps = _read_all(tmp_path / "camera0.mp4")
    assert len(frames) == 3 and fps == pytest.approx(S.DEFAULT_FPS)
    assert "Interrupted: 3 frame(s) read" in S.stage_summary(stats)
