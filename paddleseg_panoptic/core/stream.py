"""Prediction on a video file or a camera, one frame at a time.

Frames are read, predicted, post-processed and written one after the other; nothing grows with
the number of frames, so a stream of any length runs in the memory of one frame. Written under
``save_dir``:

- ``<name>.mp4``: the panoptic colours blended over every predicted frame (same size as the
  input; frame rate the input's divided by ``frame_stride``, so the duration is kept), when
  ``outputs`` holds ``panoptic``;
- per predicted frame, the files of the other chosen kinds as for images (``ids``: 
  ``panoptic_ids/<name>/frame_000123.png``, ``json``: ``segments/<name>/frame_000123.json``,
  ``semantic`` / ``instance`` pictures), with the frame's index in the input.

``<name>`` is the video's file name without suffix, or ``camera<INDEX>``.
"""
import collections
import math
import os
import time

import cv2
import paddle

from paddleseg_panoptic.core import predict as P
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.postprocess import defaults
from paddleseg_panoptic.utils import visualize as vis
from paddleseg_panoptic.utils.arrays import is_tensor
from paddleseg_panoptic.utils.panoptic_ids import DEFAULT_INSTANCE_SCORE

__all__ = ["StreamError", "open_video", "open_camera", "predict_stream", "STAGES"]

STAGES = ("read", "network", "postprocess", "write")
# The annotated video's codec and suffix (in every OpenCV wheel).
VIDEO_FOURCC, VIDEO_SUFFIX = "mp4v", ".mp4"
# Frame rate written when the source does not report one (many cameras).
DEFAULT_FPS = 25.0


class StreamError(ValueError):
    """A video that cannot be read or a camera that cannot be opened."""


def open_video(path):
    """Open a video file OpenCV can read.

    Returns:
        tuple: ``(capture, name)``, ``name`` the file name without suffix.

    Raises:
        FileNotFoundError: no such file.
        StreamError: OpenCV cannot decode it (not a video, unsupported format, no frames).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError("video not found: {}".format(path))
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise StreamError("cannot read video {}: OpenCV cannot open it (not a video, or an "
                          "unsupported format)".format(path))
    return capture, os.path.splitext(os.path.basename(path))[0]


def open_camera(index):
    """Open camera ``index`` (0 is the first).

    Returns:
        tuple: ``(capture, 'camera<index>')``.

    Raises:
        StreamError: there is no such camera, or it cannot be opened.
    """
    capture = cv2.VideoCapture(int(index))
    if not capture.isOpened():
        capture.release()
        raise StreamError("cannot open camera {}: no such camera, or it is in use (OpenCV "
                          "found no device to capture from)".format(index))
    return capture, "camera{}".format(int(index))


class _Timer:
    """Seconds spent per stage (a running sum)."""

    def __init__(self):
        self.seconds = collections.OrderedDict((stage, 0.0) for stage in STAGES)

    def add(self, stage, start):
        now = time.perf_counter()
        self.seconds[stage] += now - start
        return now


def _sync(value):
    """Wait for a GPU result so that its time counts in its own stage."""
    if is_tensor(value) and value.place.is_gpu_place():
        paddle.device.cuda.synchronize()


def predict_stream(model, capture, name, save_dir, transforms, facts=DatasetFacts(),
                   threshold=defaults.THRESHOLD, nms_kernel=defaults.NMS_KERNEL,
                   top_k=defaults.TOP_K, tta=None, instance_score=DEFAULT_INSTANCE_SCORE,
                   outputs=("panoptic",), frame_stride=1, max_frames=None, progress=True,
                   source=None):
    """Predict every ``frame_stride``-th frame of an open capture and write the outputs.

    Args:
        model (paddle.nn.Layer): in eval mode.
        capture (cv2.VideoCapture): from :func:`open_video` / :func:`open_camera`; released
            at the end.
        name (str): base name of the outputs.
        outputs (Sequence[str]): kinds of :data:`paddleseg_panoptic.core.predict.OUTPUT_KINDS`;
            ``panoptic`` is the annotated video, the others per-frame files.
        frame_stride (int): predict frames 0, N, 2N, ... only.
        max_frames (int | None): stop after reading this many frames (None: to the end; a
            camera runs until it stops delivering frames or the process is interrupted).
        source (str | None): the video path or camera, for messages.

    Returns:
        dict: ``frames_read``, ``frames_predicted``, ``video`` (path or None), ``fps`` (of
        the written video), ``seconds`` (stage -> seconds, see :data:`STAGES`),
        ``wall_seconds`` and ``interrupted`` (stopped by Ctrl-C / SIGINT: the video is closed
        and playable, and every frame counted in ``frames_predicted`` has all its files).

    Raises:
        StreamError: no frame could be read, or the video writer cannot be opened.
    """
    from tqdm import tqdm

    outputs = P.check_outputs(outputs)
    if int(frame_stride) < 1:
        raise ValueError("frame_stride must be >= 1, got {}".format(frame_stride))
    frame_stride = int(frame_stride)
    source = source or name
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and math.isfinite(fps) and fps > 0 else DEFAULT_FPS
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None
    if max_frames is not None:
        total = min(total or max_frames, max_frames)
    frame_kinds = tuple(k for k in outputs if k != "panoptic")
    timer, writer, video_path = _Timer(), None, None
    read = predicted = 0
    interrupted = False   # Ctrl-C: the usual way to stop a camera
    bar = tqdm(total=total, unit="frame", desc=name, disable=not progress)
    start_wall = time.perf_counter()
    try:
        while max_frames is None or read < max_frames:
            start = time.perf_counter()
            ok, frame = capture.read()
            start = timer.add("read", start)
            if not ok:
                break
            index, read = read, read + 1
            bar.update(1)
            if index % frame_stride:
                continue
            raw = P.run_network(model, frame, transforms, tta)
            _sync(raw[0])
            start = timer.add("network", start)
            result = P.postprocess_outputs(raw, frame.shape[:2], facts, threshold, nms_kernel,
                                           top_k)
            start = timer.add("postprocess", start)
            if "panoptic" in outputs:
                if writer is None:
                    video_path, writer = _open_writer(save_dir, name, fps / frame_stride,
                                                      frame.shape)
                writer.write(annotate(frame, result, facts))
            if frame_kinds:
                item = P.ImageItem(path=name + ".png",
                                   rel="{}/frame_{:06d}".format(name, index))
                P.save_outputs(result, frame, save_dir, item, facts, frame_kinds,
                               instance_score)
            timer.add("write", start)
            predicted += 1
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        capture.release()
        if writer is not None:
            writer.release()
    if read == 0 and not interrupted:
        raise StreamError("cannot read video {}: no frame could be decoded".format(source))
    return {"frames_read": read, "frames_predicted": predicted, "video": video_path,
            "fps": fps / frame_stride, "seconds": dict(timer.seconds),
            "wall_seconds": time.perf_counter() - start_wall, "interrupted": interrupted}


def annotate(frame_bgr, result, facts=DatasetFacts()):
    """One frame of the annotated video: the panoptic colours blended over ``frame_bgr``
    (half and half), as BGR uint8."""
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    picture = P.panoptic_picture(result["panoptic"].astype("int64"), facts)
    return cv2.cvtColor(vis.blend(rgb, picture, 0.5), cv2.COLOR_RGB2BGR)


def _open_writer(save_dir, name, fps, shape):
    os.makedirs(save_dir, exist_ok=True)
    path = os.path.join(save_dir, name + VIDEO_SUFFIX)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*VIDEO_FOURCC), fps,
                             (int(shape[1]), int(shape[0])))
    if not writer.isOpened():
        raise StreamError("cannot write video {} (OpenCV has no {} encoder, or the folder is "
                          "not writable)".format(path, VIDEO_FOURCC))
    return path, writer


def stage_summary(stats):
    """A few lines: frames read / predicted and the time per stage (total and per frame)."""
    n = max(1, stats["frames_predicted"])
    lines = ["{}{} frame(s) read, {} predicted in {:.1f} s ({:.2f} frames/s predicted)".format(
        "Interrupted: " if stats.get("interrupted") else "", stats["frames_read"],
        stats["frames_predicted"], stats["wall_seconds"],
        stats["frames_predicted"] / max(stats["wall_seconds"], 1e-9))]
    for stage, seconds in stats["seconds"].items():
        per = seconds / (stats["frames_read"] if stage == "read" else n)
        lines.append("  {:<12} {:8.2f} s  {:8.1f} ms/frame".format(stage, seconds, 1000 * per))
    return "\n".join(lines)


def run_stream(config, model_path, save_dir="./output/result", video=None, camera=None,
               threshold=defaults.THRESHOLD, nms_kernel=defaults.NMS_KERNEL,
               top_k=defaults.TOP_K, device="auto", opts=None, progress=True, aug_pred=False,
               scales=None, flip_horizontal=None, instance_score=DEFAULT_INSTANCE_SCORE,
               outputs=("panoptic",), frame_stride=1, max_frames=None):
    """What ``tools/predict.py --video`` / ``--camera`` does: open the stream (checked before
    the model is built), load the model, predict, log the time per stage.

    Returns:
        dict: as :func:`predict_stream`.
    """
    from paddleseg.utils import logger

    if (video is None) == (camera is None):
        raise ValueError("give exactly one of video and camera")
    outputs = P.check_outputs(outputs)
    capture, name = open_video(video) if video is not None else open_camera(camera)
    try:
        model, transforms, facts, tta = P.load_for_prediction(
            config, model_path, device, opts, aug_pred, scales, flip_horizontal)
    except BaseException:
        capture.release()
        raise
    source = video if video is not None else "camera {}".format(camera)
    which = "every frame" if frame_stride == 1 else "one frame in {}".format(frame_stride)
    logger.info("Predicting {} of {} into {}".format(which, source, save_dir))
    stats = predict_stream(model, capture, name, save_dir, transforms, facts, threshold,
                           nms_kernel, top_k, tta, instance_score, outputs, frame_stride,
                           max_frames, progress, source)
    logger.info("Done: {}\n{}".format(stats["video"] or save_dir, stage_summary(stats)))
    return stats
