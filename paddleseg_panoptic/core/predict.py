"""Prediction on image files: panoptic, semantic and instance pictures plus machine-readable ids.

Images of any size are normalised like the validation data, padded at the bottom / right to a
size the network handles, predicted, post-processed on the full padded output and cropped back
(docs/postprocess.md). Under ``paddle.distributed.launch`` every process takes the images
``i % world_size == rank``.

Per image (``<rel>`` = the image path relative to the input folder, suffix dropped), under
``save_dir``:

- ``semantic/<rel>.png`` / ``<rel>_add.png``: predicted classes (palette) / blended over the image
- ``semantic/<rel>_panoptic_to_semantic.png`` / ``<rel>_panoptic_to_semantic_added.png``: the
  panoptic map's classes
- ``instance/<rel>.png`` / ``<rel>_added.png``: one colour per instance, the rest black
- ``panoptic/<rel>.png`` / ``<rel>_added.png``: class colours, segments told apart by shifts
- ``panoptic_ids/<rel>.png``: the panoptic ids as RGB (id = R + 256 G + 256^2 B)
- ``segments/<rel>.json``: one entry per segment (see :func:`segments_document`)

``outputs`` chooses among these kinds (:data:`OUTPUT_KINDS`): ``panoptic``, ``semantic``
(both semantic pictures and their blends), ``instance``, ``ids`` (``panoptic_ids``) and
``json`` (``segments``); by default all are written.

Inputs are listed and read by :mod:`paddleseg_panoptic.utils.image_list`.
"""
import os
import sys

import cv2
import numpy as np
import paddle
from paddleseg.transforms import Compose, Normalize, Padding
from paddleseg.utils import logger

from paddleseg_panoptic.core.tta import TTA, network_outputs
from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.postprocess import defaults
from paddleseg_panoptic.transforms.padding import SIZE_DIVISOR, padded_size  # noqa: F401
from paddleseg_panoptic.utils import visualize as vis
from paddleseg_panoptic.utils.arrays import to_numpy
from paddleseg_panoptic.utils.image_list import (  # noqa: F401  (part of this API)
    IMAGE_SUFFIXES, ImageItem, ImageReadError, list_images, read_image)
from paddleseg_panoptic.utils.device import set_device
from paddleseg_panoptic.utils.distributed import get_rank, init_distributed
from paddleseg_panoptic.utils.paths import check_output_dir
from paddleseg_panoptic.utils.panoptic_ids import (DEFAULT_INSTANCE_SCORE, id2rgb,
                                                   panoptic_instance_scores)
from paddleseg_panoptic.utils.weights import load_weights, resolve_model_path

# What --outputs can choose, and the files (keys of output_paths) of each kind.
OUTPUT_KINDS = ("panoptic", "semantic", "instance", "ids", "json")
_OUTPUT_FILES = {
    "panoptic": ("panoptic", "panoptic_added"),
    "semantic": ("semantic", "semantic_added", "panoptic_to_semantic",
                 "panoptic_to_semantic_added"),
    "instance": ("instance", "instance_added"),
    "ids": ("panoptic_ids",),
    "json": ("segments",),
}


def _log(level, message):
    """paddleseg's logger, which prints on local rank 0 only; other ranks print to stderr."""
    if paddle.distributed.ParallelEnv().local_rank == 0:
        getattr(logger, level)(message)
    else:
        print("[rank {}] {}: {}".format(paddle.distributed.get_rank(), level.upper(), message),
              file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- model side
def prediction_transforms(val_transforms):
    """The validation transforms without ``Padding`` (prediction pads by itself).

    Args:
        val_transforms (list or paddleseg.transforms.Compose): e.g. ``Config.val_transforms``.

    Returns:
        paddleseg.transforms.Compose: taking a BGR image, converting it to RGB first. A config
        without validation transforms gets the reference's ``Normalize`` (mean = std = 0.5).
    """
    if isinstance(val_transforms, Compose):
        val_transforms = val_transforms.transforms
    if not val_transforms:
        logger.warning("The config has no val_dataset.transforms; normalising with "
                       "Normalize(mean=0.5, std=0.5)")
        val_transforms = [Normalize()]
    kept = [t for t in val_transforms if not isinstance(t, Padding)]
    return Compose(kept, to_rgb=True)


def prepare_input(image_bgr, transforms, align_corners):
    """Normalise and pad one image.

    Args:
        image_bgr (np.ndarray): [H, W, 3] uint8 BGR.
        transforms (paddleseg.transforms.Compose): from :func:`prediction_transforms`.

    Returns:
        np.ndarray: [3, Hp, Wp] float32, zero at the bottom / right padding.

    Raises:
        ValueError: the transforms changed the image size (only size-preserving validation
            transforms can be mapped back onto the input image).
    """
    height, width = image_bgr.shape[:2]
    image = transforms({"img": image_bgr.astype("float32")})["img"]
    if image.shape[1:] != (height, width):
        raise ValueError("the validation transforms changed the image size from {} to {}; "
                         "prediction supports only Normalize-like transforms".format(
                             (height, width), image.shape[1:]))
    out = np.zeros((image.shape[0], padded_size(height, align_corners),
                    padded_size(width, align_corners)), dtype=np.float32)
    out[:, :height, :width] = image
    return out


def predict_image(model, image_bgr, transforms, facts=DatasetFacts(),
                  threshold=defaults.THRESHOLD, nms_kernel=defaults.NMS_KERNEL,
                  top_k=defaults.TOP_K, tta=None):
    """Predict and post-process one image of any size.

    Args:
        model (paddle.nn.Layer): in eval mode; ``model(x)`` -> [semantic, center, offset].
        image_bgr (np.ndarray): [H, W, 3] uint8 BGR.
        tta (TTA | None): test-time augmentation (see :mod:`paddleseg_panoptic.core.tta`).

    Returns:
        dict: numpy arrays cropped to [H, W]: ``semantic``, ``semantic_softmax`` [C, H, W],
        ``instance``, ``panoptic``, ``center_heatmap``, ``centers`` ([K, 2] or None).
    """
    outputs = run_network(model, image_bgr, transforms, tta)
    return postprocess_outputs(outputs, image_bgr.shape[:2], facts, threshold, nms_kernel,
                               top_k)


def run_network(model, image_bgr, transforms, tta=None):
    """The first half of :func:`predict_image`: normalise, pad and run the network.

    Returns:
        tuple: ``(semantic, center, offset, probabilities)`` as from
        :func:`paddleseg_panoptic.core.tta.network_outputs`, for one image (no batch axis);
        numpy arrays on CPU, tensors on a GPU.
    """
    x = prepare_input(image_bgr, transforms, getattr(model, "align_corners", True))
    with paddle.no_grad():
        semantic, center, offset, probabilities = network_outputs(
            model, paddle.to_tensor(x[None]), tta)
    semantic, center, offset = semantic[0], center[0], offset[0]
    if not semantic.place.is_gpu_place():
        # On CPU the chain runs in numpy; numpy in gives numpy out without copies back.
        semantic, center, offset = to_numpy(semantic), to_numpy(center), to_numpy(offset)
    return semantic, center, offset, probabilities


def postprocess_outputs(outputs, size, facts=DatasetFacts(), threshold=defaults.THRESHOLD,
                        nms_kernel=defaults.NMS_KERNEL, top_k=defaults.TOP_K):
    """The second half of :func:`predict_image`: post-process :func:`run_network`'s outputs
    and crop them to ``size`` (H, W)."""
    # Imported here so that the visualisation part of this module works on its own.
    from paddleseg_panoptic.postprocess.inference import panoptic_postprocess

    semantic, center, offset, probabilities = outputs
    result = panoptic_postprocess(
        semantic, center, offset, thing_list=list(facts.thing_list),
        label_divisor=facts.label_divisor, stuff_area=facts.stuff_area,
        ignore_index=facts.ignore_index, threshold=threshold, nms_kernel=nms_kernel,
        top_k=top_k, output_size=tuple(size), probabilities=probabilities)
    return {key: to_numpy(value) for key, value in result.items()}


# ---------------------------------------------------------------------------- outputs
def output_paths(save_dir, rel):
    """Every file written for the image named ``rel`` (dict: kind -> path)."""
    def path(folder, suffix, ext=".png"):
        return os.path.join(save_dir, folder, *(rel + suffix + ext).split("/"))

    return {
        "semantic": path("semantic", ""),
        "semantic_added": path("semantic", "_add"),
        "panoptic_to_semantic": path("semantic", "_panoptic_to_semantic"),
        "panoptic_to_semantic_added": path("semantic", "_panoptic_to_semantic_added"),
        "instance": path("instance", ""),
        "instance_added": path("instance", "_added"),
        "panoptic": path("panoptic", ""),
        "panoptic_added": path("panoptic", "_added"),
        "panoptic_ids": path("panoptic_ids", ""),
        "segments": path("segments", "", ".json"),
    }


def check_outputs(outputs):
    """``outputs`` (names of :data:`OUTPUT_KINDS`, or a comma-separated string) as a tuple.

    Raises:
        ValueError: an unknown or no kind.
    """
    if isinstance(outputs, str):
        outputs = [k.strip() for k in outputs.split(",") if k.strip()]
    outputs = tuple(outputs)
    unknown = [k for k in outputs if k not in OUTPUT_KINDS]
    if unknown or not outputs:
        raise ValueError("outputs must be a non-empty selection of {}, got {}".format(
            ",".join(OUTPUT_KINDS), ",".join(outputs) or "nothing"))
    return outputs


def segments_document(result, file_name, facts=DatasetFacts(),
                      instance_score=DEFAULT_INSTANCE_SCORE):
    """The JSON document of one image.

    Args:
        instance_score (str): how instances are scored (see
            :func:`paddleseg_panoptic.utils.panoptic_ids.instance_scores`).

    Returns:
        dict: ``file_name`` (input path relative to the input folder), ``height``, ``width``,
        ``label_divisor``, ``ignore_index``, ``category_ids`` (the dataset's category id of
        each train id), ``instance_score`` and ``segments_info`` (see
        :func:`paddleseg_panoptic.utils.visualize.segments_info`).
    """
    panoptic = result["panoptic"]
    scores = None
    if result.get("semantic_softmax") is not None:
        scores = panoptic_instance_scores(panoptic, result["semantic_softmax"],
                                          result.get("center_heatmap"), instance_score,
                                          facts.label_divisor)
    return {
        "file_name": file_name,
        "height": int(panoptic.shape[0]),
        "width": int(panoptic.shape[1]),
        "label_divisor": int(facts.label_divisor),
        "ignore_index": int(facts.ignore_index),
        "category_ids": [int(c) for c in facts.category_ids],
        "instance_score": instance_score,
        "segments_info": vis.segments_info(
            panoptic, None, facts.label_divisor, facts.ignore_index, facts.thing_list,
            facts.class_names, scores=scores),
    }


def save_outputs(result, image_bgr, save_dir, item, facts=DatasetFacts(), outputs=OUTPUT_KINDS,
                 instance_score=DEFAULT_INSTANCE_SCORE):
    """Write the chosen pictures, the id PNG and the segments JSON of one image.

    Args:
        outputs (Sequence[str]): kinds of :data:`OUTPUT_KINDS` to write.
        instance_score (str): see :func:`segments_document`.

    Returns:
        dict: kind -> path of every file written (see :func:`output_paths`).
    """
    outputs = check_outputs(outputs)
    rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
    panoptic = result["panoptic"].astype(np.int64)
    paths = output_paths(save_dir, item.rel)
    paths = {key: paths[key] for kind in outputs for key in _OUTPUT_FILES[kind]}
    for folder in {os.path.dirname(p) for p in paths.values()}:
        os.makedirs(folder, exist_ok=True)
    for kind, picture in _pictures(result, panoptic, facts, outputs).items():
        vis.write_png(paths[kind], picture)
        vis.write_png(paths[kind + "_added"], vis.blend(rgb, picture, 0.5))
    if "ids" in outputs:
        vis.write_png(paths["panoptic_ids"], id2rgb(panoptic))
    if "json" in outputs:
        file_name = item.rel + os.path.splitext(item.path)[1]
        vis.write_json(paths["segments"],
                       segments_document(result, file_name, facts, instance_score))
    return paths


def _pictures(result, panoptic, facts, outputs):
    """The colour pictures of the chosen kinds (key of :func:`output_paths` -> RGB)."""
    pictures = {}
    if "semantic" in outputs:
        pan_semantic = vis.panoptic_to_semantic(panoptic, facts.label_divisor,
                                                facts.ignore_index)
        pictures["semantic"] = vis.colorize_semantic(result["semantic"], facts.palette)
        pictures["panoptic_to_semantic"] = vis.colorize_semantic(pan_semantic, facts.palette)
    if "instance" in outputs:
        pictures["instance"] = vis.colorize_instance(panoptic, facts.label_divisor,
                                                     facts.ignore_index)
    if "panoptic" in outputs:
        pictures["panoptic"] = panoptic_picture(panoptic, facts)
    return pictures


def panoptic_picture(panoptic, facts=DatasetFacts()):
    """[H, W, 3] uint8 RGB: class colours, segments told apart by shifts."""
    return vis.colorize_panoptic(panoptic, facts.label_divisor, facts.ignore_index,
                                 facts.palette)


def predict(model, items, save_dir, transforms, facts=DatasetFacts(),
            threshold=defaults.THRESHOLD, nms_kernel=defaults.NMS_KERNEL, top_k=defaults.TOP_K,
            rank=0, world_size=1, progress=True, tta=None,
            instance_score=DEFAULT_INSTANCE_SCORE, outputs=OUTPUT_KINDS):
    """Predict ``items[rank::world_size]`` and save their outputs.

    Args:
        model (paddle.nn.Layer): with its weights loaded.
        items (list[ImageItem]): from :func:`list_images`, the same list on every process.
        transforms (paddleseg.transforms.Compose): from :func:`prediction_transforms`.
        progress (bool): show a progress bar over all images (on rank 0 only).
        tta (TTA | None), instance_score (str), outputs (Sequence[str]): see
            :func:`predict_image` and :func:`save_outputs`.

    Returns:
        list[tuple[str, str]]: (path, reason) of the images of this process that failed to
        read; the others are saved.
    """
    from tqdm import tqdm

    model.eval()
    mine = list(range(rank, len(items), world_size))
    if world_size > 1:
        _log("info", "Process {}/{}: {} of {} image(s)".format(rank, world_size, len(mine),
                                                               len(items)))
    bar = tqdm(total=len(items), disable=not progress or rank != 0, unit="img",
               desc="predict")
    failures = []
    for index in mine:
        item = items[index]
        try:
            image = read_image(item.path)
        except ImageReadError as e:
            _log("warning", "Skipping {}: {}".format(item.path, e))
            failures.append((item.path, str(e)))
        else:
            result = predict_image(model, image, transforms, facts, threshold, nms_kernel, top_k,
                                   tta)
            save_outputs(result, image, save_dir, item, facts, outputs, instance_score)
        # Rank 0 stands for the whole step: the other processes take the next images.
        bar.update(min(world_size, len(items) - index))
    bar.close()
    return failures


# ---------------------------------------------------------------------------- whole command
def load_for_prediction(config, model_path, device="auto", opts=None, aug_pred=False,
                        scales=None, flip_horizontal=None):
    """Read the config, build the model and load ``model_path`` into it (a URL is
    downloaded once to the cache, see :func:`resolve_model_path`).

    Returns:
        tuple: ``(model, transforms, facts, tta)``: the model in eval mode, the
        :func:`prediction_transforms`, the :class:`DatasetFacts` and the :class:`TTA`.
    """
    from paddleseg_panoptic.cvlibs.config import Config

    cfg = Config(config, opts=opts)
    facts = DatasetFacts.from_config(cfg)
    transforms = prediction_transforms(cfg.val_transforms)
    tta = TTA.resolve(cfg.dic.get("test_config"), aug_pred, scales, flip_horizontal,
                      enable_key="aug_pred", source=cfg.path)
    set_device(device)
    model = cfg.build_model(load_pretrained=False)
    load_weights(model, resolve_model_path(model_path), strict=True)
    model.eval()
    return model, transforms, facts, tta


def run_prediction(config, model_path, image_path, save_dir="./output/result",
                   threshold=defaults.THRESHOLD, nms_kernel=defaults.NMS_KERNEL,
                   top_k=defaults.TOP_K, device="auto", opts=None, progress=True,
                   aug_pred=False, scales=None, flip_horizontal=None,
                   instance_score=DEFAULT_INSTANCE_SCORE, outputs=OUTPUT_KINDS):
    """What ``tools/predict.py`` does: list the images, check ``save_dir`` can be written,
    build the model, load the weights (all checked before any image is read), then predict
    this process's share.

    Args:
        config (str): config path. ``model_path`` (a file, a folder or an http(s) URL)
            replaces its ``pretrained`` weights.
        top_k (int or None): None for no limit.
        aug_pred (bool), scales (list[float] | None), flip_horizontal (bool | None):
            test-time augmentation, merged with the config's ``test_config`` by
            :meth:`TTA.resolve`.
        instance_score (str), outputs (Sequence[str] | str): see :func:`save_outputs`.

    Returns:
        list[tuple[str, str]]: (path, reason) of the images that could not be read, gathered
        from all processes.
    """
    outputs = check_outputs(outputs)
    items = list_images(image_path, exclude_dir=save_dir)
    check_output_dir(save_dir, "--save_dir")
    model, transforms, facts, tta = load_for_prediction(config, model_path, device, opts,
                                                        aug_pred, scales, flip_horizontal)
    world_size, rank = init_distributed(), get_rank()
    if rank == 0:
        logger.info("Predicting {} image(s) from {} on {} process(es) into {}".format(
            len(items), image_path, world_size, save_dir))
    failures = predict(model, items, save_dir, transforms, facts, threshold, nms_kernel, top_k,
                       rank=rank, world_size=world_size, progress=progress, tta=tta,
                       instance_score=instance_score, outputs=outputs)
    if world_size > 1:
        # Also a barrier: no process returns before all have finished their images. Flush
        # first: the launcher may stop a process as soon as another one exits non-zero.
        sys.stdout.flush()
        sys.stderr.flush()
        gathered = []
        paddle.distributed.all_gather_object(gathered, failures)
        failures = sorted(f for part in gathered for f in part)
    if rank == 0:
        logger.info("Done: {} image(s) predicted, {} unreadable, results in {}".format(
            len(items) - len(failures), len(failures), save_dir))
    return failures

