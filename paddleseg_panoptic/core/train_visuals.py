"""Pictures of a few fixed validation images for VisualDL, made at each evaluation in training.

For each of the first :data:`NUM_IMAGES` validation images (always the same ones, so the
pictures can be compared from one evaluation to the next), under ``Images/<k>/``:

- ``input``: the image as read from disk;
- ``ground_truth``: the ground-truth panoptic map in the prediction tools' colours;
- ``prediction``: the predicted panoptic map blended over the image;
- ``center``: the predicted centre heatmap (JET colour map, 0 blue to 1 red);
- ``offset``: the predicted offsets on a colour wheel (hue = direction, brightness = length
  relative to the longest vector of the image).

Pictures wider than :data:`MAX_WIDTH` are shrunk to keep the VisualDL files small.
"""
import cv2
import numpy as np
import paddle

from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.postprocess.inference import panoptic_postprocess
from paddleseg_panoptic.utils import visualize as vis

__all__ = ["NUM_IMAGES", "MAX_WIDTH", "PANELS", "panel_tags", "validation_panels"]

NUM_IMAGES = 3
MAX_WIDTH = 512
PANELS = ("input", "ground_truth", "prediction", "center", "offset")


def panel_tags(k):
    """The VisualDL tags of validation image ``k``, in :data:`PANELS` order."""
    return ["Images/{}/{}".format(k, name) for name in PANELS]


def _shrink(image):
    height, width = image.shape[:2]
    if width <= MAX_WIDTH:
        return image
    size = (MAX_WIDTH, max(1, int(round(height * MAX_WIDTH / width))))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)


def _input_picture(dataset, index, sample, shape):
    """The image file of the sample when the dataset names it, else its tensor rescaled."""
    records = getattr(dataset, "records", None)
    try:
        picture = vis.read_png_rgb(records[index]["image_path"])
        if picture.shape[:2] == tuple(shape):
            return picture
    except (TypeError, KeyError, IndexError, IOError):
        pass
    image = np.asarray(sample["image"], dtype=np.float32)[:, :shape[0], :shape[1]]
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return np.rint(scaled.transpose(1, 2, 0) * 255).astype(np.uint8)


def validation_panels(model, dataset, post, num_images=NUM_IMAGES):
    """Predict the first ``num_images`` images of ``dataset`` and draw the panels.

    Args:
        model (paddle.nn.Layer): returns ``[semantic, center, offset]``; run in eval mode
            without gradients (its mode is restored).
        dataset: validation dataset (samples with ``image`` [3, Hp, Wp] and ``raw_panoptic``
            [H, W]).
        post (dict): ``threshold``, ``nms_kernel`` and ``top_k`` of the post-processing.

    Returns:
        dict: VisualDL tag -> [h, w, 3] uint8 RGB picture.
    """
    facts = DatasetFacts.from_dataset(dataset)
    colors = dict(label_divisor=facts.label_divisor, ignore_index=facts.ignore_index,
                  palette=facts.palette)
    pictures = {}
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            for k in range(min(num_images, len(dataset))):
                sample = dataset[k]
                truth = np.asarray(sample["raw_panoptic"])
                semantic, center, offset = model(paddle.to_tensor(sample["image"][None]))[:3]
                result = panoptic_postprocess(
                    semantic[0], center[0], offset[0], thing_list=list(facts.thing_list),
                    label_divisor=facts.label_divisor, stuff_area=facts.stuff_area,
                    ignore_index=facts.ignore_index, output_size=truth.shape, **post)
                image = _input_picture(dataset, k, sample, truth.shape)
                predicted = vis.colorize_panoptic(result["panoptic"].numpy(), **colors)
                offsets = offset[0].numpy()[:, :truth.shape[0], :truth.shape[1]]
                drawn = (image, vis.colorize_panoptic(truth, **colors), vis.blend(image, predicted),
                         vis.colorize_heatmap(result["center_heatmap"].numpy()),
                         vis.colorize_offsets(offsets))
                pictures.update(zip(panel_tags(k), (_shrink(p) for p in drawn)))
    finally:
        if was_training:
            model.train()
    return pictures
