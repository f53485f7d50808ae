"""The whole post-processing chain for one image, from the three network outputs.

The steps are those of docs/postprocess.md ("Algorithm").
"""
import numpy as np
import paddle
import paddle.nn.functional as F

from . import _arrays, _limits
from .centers import _check_args as _check_center_args
from .defaults import NMS_KERNEL, THRESHOLD, TOP_K
from .fusion import _check_args as _check_fusion_args
from .fusion import _merge_numpy, _merge_paddle
from .grouping import _instance_numpy, _instance_paddle, thing_mask_paddle

__all__ = ["panoptic_postprocess"]



def _squeeze_batch(x, name, channels):
    """Accept [ch, H, W] or a batch of one [1, ch, H, W]; ``channels`` None means any."""
    ndim = len(x.shape)
    if ndim == 4:
        if int(x.shape[0]) != 1:
            raise ValueError(f"{name} must hold one image, got a batch of shape {list(x.shape)}")
        x = x[0]
    elif ndim != 3:
        raise ValueError(f"{name} must have shape [{channels or 'C'}, H, W], "
                         f"got {list(x.shape)}")
    if channels is not None and int(x.shape[0]) != channels:
        raise ValueError(f"{name} must have shape [{channels}, H, W], got {list(x.shape)}")
    return x


def _check_output_size(output_size, height, width):
    if output_size is None:
        return height, width
    try:
        h0, w0 = (int(v) for v in output_size)
    except (TypeError, ValueError) as err:
        raise ValueError(f"output_size must be (H0, W0), got {output_size!r}") from err
    if not (0 < h0 <= height and 0 < w0 <= width):
        raise ValueError(f"output_size {(h0, w0)} must be positive and within the network "
                         f"output size {(height, width)}")
    return h0, w0


def _argmax_softmax_numpy(logits, size, softmax=True):
    """Class argmax of the full [C, H, W] logits and softmax of their [:, :H0, :W0] crop.

    Both come from one pass over cache-sized row blocks: the per-pixel maximum serves the
    argmax (the first class equal to it, as np.argmax) and the softmax's shift.

    Returns:
        tuple: semantic [H, W] int64 and softmax [C, H0, W0] float32 (None if not ``softmax``).
    """
    num_classes, height, width = logits.shape
    h0, w0 = size
    semantic = np.empty((height, width), dtype=np.int64)
    probs = np.empty((num_classes, h0, w0), dtype=np.float32) if softmax else None
    label = np.empty((_limits.ARGMAX_ROWS, width), dtype=np.int8 if num_classes < 128 else np.int64)
    equal = np.empty((_limits.ARGMAX_ROWS, width), dtype=bool)
    for r in range(0, height, _limits.ARGMAX_ROWS):
        block = logits[:, r:r + _limits.ARGMAX_ROWS]
        rows = block.shape[1]
        peak = block.max(axis=0)
        lab, eq = label[:rows], equal[:rows]
        lab.fill(0)  # a pixel equal to none of the classes (NaN) keeps class 0
        for c in range(num_classes - 1, -1, -1):  # the smallest equal class is written last
            np.equal(block[c], peak, out=eq)
            np.copyto(lab, c, where=eq)
        semantic[r:r + rows] = lab
        if softmax and r < h0:
            keep = min(rows, h0 - r)
            out = probs[:, r:r + keep]
            np.subtract(block[:, :keep, :w0], peak[:keep, :w0], out=out, casting="unsafe")
            np.exp(out, out=out)
            out /= out.sum(axis=0)
    return semantic, probs


def _chain_numpy(logits, heatmap, offsets, things, label_divisor, stuff_area, ignore_index,
                 threshold, nms_kernel, top_k, size, softmax, probabilities=False):
    h0, w0 = size
    semantic, probs = _argmax_softmax_numpy(logits, size, softmax and not probabilities)
    if softmax and probabilities:
        probs = np.array(logits[:, :h0, :w0], dtype=np.float32)
    # argmax gives classes in [0, C) and grouping ids in [0, K]: no scans needed to check
    # them or size tables.
    instance, centers = _instance_numpy(semantic, heatmap, offsets, things, threshold,
                                        nms_kernel, top_k, check_ids=False)
    panoptic = _merge_numpy(semantic, instance[0], label_divisor, things, stuff_area,
                            ignore_index, num_classes=logits.shape[0],
                            num_ids=1 if centers is None else centers.shape[1] + 1)
    return {
        "semantic": np.ascontiguousarray(semantic[:h0, :w0]),
        "semantic_softmax": probs,
        "instance": np.ascontiguousarray(instance[0, :h0, :w0]),
        "panoptic": np.ascontiguousarray(panoptic[:h0, :w0]),
        "center_heatmap": np.array(heatmap[0, :h0, :w0], dtype=np.float32),
        "centers": None if centers is None else centers[0],
    }


def _chain_paddle(logits, heatmap, offsets, things, label_divisor, stuff_area, ignore_index,
                  threshold, nms_kernel, top_k, size, softmax, probabilities=False):
    h0, w0 = size
    probs = None
    if softmax:
        probs = logits[:, :h0, :w0].astype("float32")
        if not probabilities:
            probs = F.softmax(probs, axis=0)
    semantic = paddle.argmax(logits, axis=0).astype("int64")
    thing = thing_mask_paddle(semantic, things)
    instance, centers = _instance_paddle(semantic.unsqueeze(0), heatmap, offsets, things,
                                         threshold, nms_kernel, top_k, thing=thing)
    panoptic = _merge_paddle(semantic, instance[0], label_divisor, things, stuff_area,
                             ignore_index)
    return {
        "semantic": semantic[:h0, :w0],
        "semantic_softmax": probs,
        "instance": instance[0, :h0, :w0],
        "panoptic": panoptic[:h0, :w0],
        "center_heatmap": heatmap[0, :h0, :w0].astype("float32"),
        "centers": None if centers is None else centers[0],
    }


def panoptic_postprocess(semantic_logits, center_heatmap, offsets, *, thing_list, label_divisor,
                         stuff_area, ignore_index, threshold=THRESHOLD, nms_kernel=NMS_KERNEL,
                         top_k=TOP_K, output_size=None, softmax=True,
                         probabilities=False):
    """Semantic, instance and panoptic maps of one image from the network outputs.

    Everything runs on the full (padded) network output; only then are the outputs cropped to
    ``output_size`` (padding is at the bottom / right), so the padded area takes part in the
    stuff areas and majority votes.

    Args:
        semantic_logits (np.ndarray | Tensor): [C, H, W] (or [1, C, H, W]) class logits.
        center_heatmap (np.ndarray | Tensor): [1, H, W] (or [1, 1, H, W]) centre heatmap.
        offsets (np.ndarray | Tensor): [2, H, W] (or [1, 2, H, W]) offsets (dy, dx).
        thing_list (list[int]): thing class ids.
        label_divisor (int): panoptic id = class * label_divisor + instance number.
        stuff_area (int): smallest area of a stuff class to keep it.
        ignore_index (int): panoptic value of unassigned pixels.
        threshold, nms_kernel, top_k: centre finding, see :func:`find_instance_center`.
        output_size (tuple[int, int] | None): (H0, W0) of the original image; None: (H, W).
        softmax (bool): compute ``semantic_softmax`` (None when False).
        probabilities (bool): ``semantic_logits`` holds class probabilities (e.g. averaged
            over test-time augmentations) rather than logits: the classes are their argmax and
            ``semantic_softmax`` is their crop, without a softmax.

    Returns:
        dict: of arrays of the same kind as ``semantic_logits`` (on its device):
        ``semantic`` [H0, W0] int64, ``semantic_softmax`` [C, H0, W0] float32,
        ``instance`` [H0, W0] int64 (0 = none; id i is ``centers[i - 1]``),
        ``panoptic`` [H0, W0] int64, ``center_heatmap`` [H0, W0] float32 (as given) and
        ``centers`` [K, 2] int64 (y, x) in padded-output coordinates, or None.
    """
    logits = _squeeze_batch(semantic_logits, "semantic_logits", None)
    heatmap = _squeeze_batch(center_heatmap, "center_heatmap", 1)
    offsets = _squeeze_batch(offsets, "offsets", 2)
    height, width = (int(s) for s in logits.shape[1:])
    for name, x in (("center_heatmap", heatmap), ("offsets", offsets)):
        if tuple(int(s) for s in x.shape[1:]) != (height, width):
            raise ValueError(f"{name} has H, W {list(x.shape[1:])}, semantic_logits has "
                             f"{[height, width]}")
    if int(logits.shape[0]) < 1:
        raise ValueError("semantic_logits must have at least one class channel")
    things = _arrays.check_thing_list(thing_list)
    _check_center_args(threshold, nms_kernel, top_k)
    _check_fusion_args(label_divisor, stuff_area, ignore_index)
    for name, flag in (("softmax", softmax), ("probabilities", probabilities)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"{name} must be a bool, got {flag!r}")
    size = _check_output_size(output_size, height, width)
    args = (things, int(label_divisor), stuff_area, int(ignore_index), float(threshold),
            int(nms_kernel), top_k, size, bool(softmax), bool(probabilities))
    if _arrays.on_device(logits):
        heatmap, offsets = (x if _arrays.is_tensor(x) else _arrays.to_tensor(x, logits)
                            for x in (heatmap, offsets))
        return _chain_paddle(logits, heatmap, offsets, *args)
    result = _chain_numpy(_arrays.to_numpy(logits), _arrays.to_numpy(heatmap),
                          _arrays.to_numpy(offsets), *args)
    if _arrays.is_tensor(logits):
        result = {key: _arrays.to_tensor(value, logits) for key, value in result.items()}
    return result
