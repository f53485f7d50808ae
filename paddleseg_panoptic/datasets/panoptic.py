"""Panoptic segmentation datasets in the COCO panoptic format, for any set of categories.

The format (what COCO publishes, what cityscapesScripts writes for Cityscapes and what
``tools/convert_to_coco_panoptic.py`` writes from other labels): one json file with

- ``categories``: ``[{id, name, isthing, color (optional)}, ...]``, any ids;
- ``annotations``: per image ``{image_id, file_name, segments_info: [{id, category_id,
  iscrowd, ...}]}``, where ``file_name`` names the image's panoptic PNG;
- ``images`` (optional here): ``[{id, file_name, height, width}]``;

plus one RGB PNG per image whose pixels hold segment ids, ``id = R + 256 G + 256^2 B``; 0 is
void (unlabeled). The category ids map to train ids ``0 .. C-1`` in the order of
``categories``; class names, the thing list and the palette come from the same list.

Samples are in train-id space, so everything downstream (model, targets, post-processing,
evaluators, pictures) sees classes ``0 .. C-1`` and ``ignore_index`` 255 for void.
"""
import json
import os

import cv2
import numpy as np
import paddle
from paddleseg.transforms import Compose

from paddleseg_panoptic.cvlibs.manager import DATASETS, register
from paddleseg_panoptic.transforms.raw_labels import segment_labels
from paddleseg_panoptic.transforms.segment_index import segment_index_map
from paddleseg_panoptic.transforms.target_generator import PanopticTargetGenerator
from paddleseg_panoptic.utils.panoptic_ids import encode, rgb2id

TRAIN_KEYS = ("image", "semantic", "semantic_weights", "center", "center_weights", "offset",
              "offset_weights", "foreground")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# Defaults of a dataset that does not say otherwise.
IGNORE_INDEX = 255       # semantic value of void pixels (train ids stay below it)
LABEL_DIVISOR = 1000     # panoptic value = train id * LABEL_DIVISOR + instance number
STUFF_AREA = 2048        # smallest stuff segment kept by post-processing, pixels
CENTER_SIGMA = 8         # standard deviation of the centre heatmap's Gaussians, pixels


def read_rgb(path, what="image"):
    """Reads a PNG/JPEG as an ``[H, W, 3]`` uint8 RGB array.

    Raises:
        FileNotFoundError: ``path`` does not exist. OSError: it cannot be decoded.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError("{} file {} does not exist".format(what, path))
    array = cv2.imread(path, cv2.IMREAD_COLOR)
    if array is None:
        raise OSError("cannot decode {} file {} (corrupt or not an image)".format(what, path))
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)


def load_panoptic_json(json_path, hint=""):
    """Reads a COCO panoptic json; its ``annotations`` must be a list.

    Raises:
        FileNotFoundError: no such file. ValueError: not json, or not in the panoptic format.
    """
    if not os.path.isfile(json_path):
        raise FileNotFoundError("Panoptic annotation {} is missing. {}".format(
            json_path, hint).strip())
    try:
        with open(json_path) as f:
            data = json.load(f)
        if not isinstance(data["annotations"], list):
            raise TypeError("'annotations' is not a list")
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError("{} is not a COCO panoptic annotation file ({}). {}".format(
            json_path, err, hint).strip()) from None
    return data


def generated_palette(num):
    """``num`` distinct RGB colours (a fixed hue walk), for categories without ``color``."""
    hues = (np.arange(num) * 0.618033988749895) % 1.0
    hsv = np.stack([hues * 180, np.full(num, 200), np.full(num, 230)], axis=-1)
    rgb = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]
    return [[int(v) for v in c] for c in rgb]


def category_facts(categories, source):
    """Class facts from a ``categories`` list, train ids in list order.

    Args:
        categories (list[dict]): ``{id, name, isthing, color (optional)}`` entries.
        source (str): the file they come from, for messages.

    Returns:
        dict: ``num_classes``, ``category_ids`` (by train id), ``class_names``,
        ``thing_list`` (train ids), ``palette`` (RGB by train id).

    Raises:
        ValueError: no categories, an entry without ``id`` or ``isthing``, a duplicate id, or
            more categories than train ids below 255.
    """
    if not isinstance(categories, list) or not categories:
        raise ValueError("{}: 'categories' must be a non-empty list of {{id, name, isthing, "
                         "color}}".format(source))
    if len(categories) >= IGNORE_INDEX:
        raise ValueError("{}: {} categories; at most {} are supported (train id {} is "
                         "void)".format(source, len(categories), IGNORE_INDEX, IGNORE_INDEX))
    ids, seen = [], set()
    for position, category in enumerate(categories):
        for key in ("id", "isthing"):
            if not isinstance(category, dict) or key not in category:
                raise ValueError("{}: category #{} ({!r}) has no '{}'".format(
                    source, position, category, key))
        cat_id = int(category["id"])
        if cat_id in seen:
            raise ValueError("{}: category id {} is listed twice".format(source, cat_id))
        seen.add(cat_id)
        ids.append(cat_id)
    generated = generated_palette(len(categories))
    return {
        "num_classes": len(categories),
        "category_ids": ids,
        "class_names": [str(c.get("name", c["id"])) for c in categories],
        "thing_list": [t for t, c in enumerate(categories) if int(c["isthing"])],
        "palette": [[int(v) for v in c["color"]] if c.get("color") else generated[t]
                    for t, c in enumerate(categories)],
    }


def check_segment_ids(ids, segments, what):
    """Raises ValueError naming ``what`` (an image) and the ids when ``ids`` holds a non-zero
    segment id that ``segments`` does not list.

    Args:
        ids (np.ndarray): [H, W] segment ids of a panoptic PNG.
        segments (list[dict]): the image's ``segments_info``.
    """
    index = segment_index_map(ids, [s["id"] for s in segments])
    unlisted = (index == len(segments)) & (ids != 0)
    if unlisted.any():
        bad = np.unique(ids[unlisted])
        raise ValueError("{}: segment id(s) {} in the PNG are not in its segments_info".format(
            what, bad[:10].tolist()))


def check_mode(mode):
    """``mode`` in lower case; raises ValueError unless it is 'train' or 'val'."""
    mode = str(mode).lower()
    if mode not in ("train", "val"):
        raise ValueError("mode should be 'train' or 'val', got {!r}".format(mode))
    return mode


def check_same_size(image, label, record):
    """Raises ValueError naming both files when image and label differ in size."""
    if image.shape[:2] != label.shape[:2]:
        raise ValueError("image {} is {}x{} but its label {} is {}x{}".format(
            record["image_path"], image.shape[0], image.shape[1], record["label_path"],
            label.shape[0], label.shape[1]))


@register(DATASETS)
class PanopticDataset(paddle.io.Dataset):
    """A COCO-panoptic-format dataset with any categories (see the module docstring).

    Layout under ``dataset_root`` (paths relative to it): the json ``json_path``, the images in
    ``image_dir`` and the panoptic PNGs in ``label_dir``. An annotation's image is
    ``image_dir/<stem of its file_name>`` with suffix .png, .jpg or .jpeg (or the
    ``file_name`` of its ``images`` entry).

    Samples are dicts of numpy arrays (Paddle's default collate batches them):

    - ``mode='train'``: ``image`` [3, H, W] float32, ``semantic`` [H, W] int64,
      ``semantic_weights`` [H, W] float32, ``center`` [1, H, W] float32, ``center_weights``
      [H, W] float32, ``offset`` [2, H, W] float32 (dy, dx), ``offset_weights`` [H, W] float32,
      ``foreground`` [H, W] int64; targets are computed from the augmented label.
    - ``mode='val'``: ``image`` [3, Hp, Wp] float32 (after the transforms, e.g. padded),
      ``raw_semantic``, ``raw_instance``, ``raw_panoptic`` [H, W] int64 from the PNG as stored,
      and ``index`` (int64), the position in :attr:`records`.

    ``records[i]`` is ``{'image_path', 'label_path', 'image_id', 'segments_info'}`` with
    ``category_id`` already turned into train ids.

    Args:
        transforms (list): paddleseg transform objects applied to the RGB image and the RGB
            panoptic label together (labels are resized with nearest neighbour; pad labels
            with ``label_padding_value=[0, 0, 0]``, the void id).
        dataset_root (str): dataset folder.
        json_path (str): COCO panoptic json, relative to ``dataset_root``.
        image_dir (str): folder of the images, relative to ``dataset_root``.
        label_dir (str): folder of the panoptic PNGs, relative to ``dataset_root``.
        mode (str): ``'train'`` or ``'val'``.
        ignore_stuff_in_offset (bool): offset weights only on thing segments.
        small_instance_area (int): thing segments with fewer pixels (after augmentation) get
            ``small_instance_weight`` in ``semantic_weights``.
        small_instance_weight (float): see above.
        stuff_area (int): minimum stuff area used by post-processing.
        label_divisor (int): panoptic value = train id * label_divisor + instance number; must
            exceed the number of instances in any image.
        center_sigma (float): standard deviation, in pixels of the (augmented) training
            sample, of the Gaussian drawn at each instance centre in the ``center`` target
            (default 8, for Cityscapes-sized images; scale it with the image size).
    """
    IGNORE_INDEX = IGNORE_INDEX

    def __init__(self, transforms, dataset_root, json_path, image_dir, label_dir, mode="train",
                 ignore_stuff_in_offset=False, small_instance_area=0, small_instance_weight=1,
                 stuff_area=STUFF_AREA, label_divisor=LABEL_DIVISOR, center_sigma=CENTER_SIGMA):
        mode = check_mode(mode)
        if not float(center_sigma) > 0:
            raise ValueError("center_sigma must be a positive number of pixels, got {!r}".format(
                center_sigma))
        if transforms is None or not isinstance(transforms, (list, tuple)):
            raise TypeError("transforms must be a list of transform objects, got {!r}".format(
                transforms))
        self.dataset_root = dataset_root
        self.mode = mode
        self.json_path = os.path.join(dataset_root, json_path)
        self.image_dir = os.path.join(dataset_root, image_dir)
        self.label_dir = os.path.join(dataset_root, label_dir)
        self.ignore_index = self.IGNORE_INDEX
        self.stuff_area = stuff_area
        self.label_divisor = int(label_divisor)
        # Images are read as RGB here, so paddleseg's Compose must not swap channels again.
        self.transforms = Compose(list(transforms), to_rgb=False)
        self._check_layout()
        data = load_panoptic_json(self.json_path, self._hint())
        self._set_classes(data.get("categories"))
        self._to_train = {c: t for t, c in enumerate(self.category_ids)}
        self.records = self._load_records(data)
        self.file_list = [[r["image_path"], r["label_path"]] for r in self.records]
        self.target_generator = PanopticTargetGenerator(
            self.IGNORE_INDEX, self.rgb2id, self.thing_list, sigma=float(center_sigma),
            ignore_stuff_in_offset=ignore_stuff_in_offset,
            small_instance_area=small_instance_area,
            small_instance_weight=small_instance_weight)

    # ------------------------------------------------------------------ class facts
    @classmethod
    def class_facts(cls, spec):
        """The class facts a config's dataset mapping describes, without building the dataset
        (reads only the json's ``categories``).

        Args:
            spec (dict): the ``train_dataset`` / ``val_dataset`` mapping of a config.

        Returns:
            dict: ``num_classes``, ``category_ids``, ``class_names``, ``thing_list``,
            ``palette``.
        """
        path = os.path.join(spec.get("dataset_root", ""), spec.get("json_path", ""))
        hint = ("The classes (the model's num_classes, names, things) are read from its "
                "'categories': point dataset_root / json_path at it (e.g. --opts "
                "val_dataset.dataset_root=...).")
        return category_facts(load_panoptic_json(path, hint).get("categories"), path)

    def _set_classes(self, categories):
        facts = category_facts(categories, self.json_path)
        self.num_classes = facts["num_classes"]
        self.category_ids = facts["category_ids"]
        self.class_names = facts["class_names"]
        self.thing_list = facts["thing_list"]
        self.palette = facts["palette"]

    # ------------------------------------------------------------------ records
    def _hint(self):
        """Extra text for errors about missing or broken files: how to make them."""
        return ("Write the annotations with tools/convert_to_coco_panoptic.py "
                "(see docs/custom_dataset.md).")

    def _check_layout(self):
        for path in (self.image_dir, self.label_dir):
            if not os.path.isdir(path):
                raise FileNotFoundError("Dataset folder {} is missing. {}".format(
                    path, self._hint()))

    def _image_path(self, annotation, images):
        """The image of ``annotation``: its ``images`` entry's file, else the label's stem with
        an image suffix. Returns the first candidate when none exists (for the message)."""
        entry = images.get(annotation.get("image_id"))
        stem = os.path.splitext(annotation["file_name"])[0]
        candidates = [os.path.join(self.image_dir, stem + s) for s in IMAGE_SUFFIXES]
        if entry and entry.get("file_name"):
            candidates.insert(0, os.path.join(self.image_dir, entry["file_name"]))
        return next((p for p in candidates if os.path.isfile(p)), candidates[0])

    def _label_path(self, annotation):
        return os.path.join(self.label_dir, annotation["file_name"])

    def _train_segments(self, annotation, label_path):
        """``segments_info`` with train-id ``category_id`` (errors name the PNG and the id)."""
        to_train = self._to_train
        segments = []
        for segment in annotation.get("segments_info", []):
            category = int(segment["category_id"])
            if category not in to_train:
                raise ValueError("{} (image {}): segment {} has category id {}, which {} does "
                                 "not list in 'categories'".format(
                                     label_path, annotation.get("image_id"), segment.get("id"),
                                     category, self.json_path))
            segments.append(dict(segment, category_id=to_train[category],
                                 iscrowd=int(segment.get("iscrowd", 0))))
        return segments

    def _load_records(self, data):
        annotations = data["annotations"]
        if not annotations:
            raise ValueError("{} lists no annotations: the '{}' split is empty. {}".format(
                self.json_path, self.mode, self._hint()))
        images = {i.get("id"): i for i in data.get("images") or [] if isinstance(i, dict)}
        records = []
        for ann in annotations:
            if not isinstance(ann, dict) or "file_name" not in ann:
                raise ValueError("{}: annotation {!r} has no 'file_name'".format(
                    self.json_path, ann))
            label_path = self._label_path(ann)
            image_path = self._image_path(ann, images)
            if not os.path.isfile(label_path):
                raise FileNotFoundError("Panoptic label {} listed in {} is missing. {}".format(
                    label_path, self.json_path, self._hint()))
            if not os.path.isfile(image_path):
                raise FileNotFoundError("Image {} of annotation {} (in {}) is missing.".format(
                    image_path, label_path, self.json_path))
            records.append({"image_path": image_path, "label_path": label_path,
                            "image_id": ann.get("image_id", os.path.splitext(
                                ann["file_name"])[0]),
                            "segments_info": self._train_segments(ann, label_path)})
        return records

    # ------------------------------------------------------------------ samples
    @staticmethod
    def rgb2id(color):
        """Panoptic colour -> id, ``R + 256 G + 256^2 B`` (array [H, W, 3] or one colour)."""
        return rgb2id(color)

    def instance_numbers(self, segments):
        """Instance number of each segment in the raw panoptic label: 1, 2, ... for the
        non-crowd thing segments in list order, 0 for the others."""
        numbers, k = [], 0
        for segment in segments:
            if segment["category_id"] in self.thing_list and not segment["iscrowd"]:
                k += 1
                numbers.append(k)
            else:
                numbers.append(0)
        if k >= self.label_divisor:
            raise ValueError("{} instances in one image, but label_divisor is {}".format(
                k, self.label_divisor))
        return numbers

    def raw_labels(self, ids, segments):
        """``raw_semantic``, ``raw_instance`` and ``raw_panoptic`` [H, W] int64 of one label.

        Semantic: each segment's train id (crowd too), void ``ignore_index``. Panoptic:
        ``train id * label_divisor + k`` for instances (k from :meth:`instance_numbers`), the
        train id for stuff and crowd. Instance: 1, 2, ... per instance present (class-agnostic,
        in ascending panoptic value), 0 elsewhere.
        """
        numbers = self.instance_numbers(segments)
        classes = [int(s["category_id"]) for s in segments]
        panoptic = [int(encode(c, k, self.label_divisor)) if k else c
                    for c, k in zip(classes, numbers)]
        order = {v: n + 1 for n, v in enumerate(sorted(v for v, k in zip(panoptic, numbers)
                                                       if k))}
        instance = [order.get(v, 0) if k else 0 for v, k in zip(panoptic, numbers)]
        return segment_labels(ids, [s["id"] for s in segments],
                              (classes, self.IGNORE_INDEX), (instance, 0),
                              (panoptic, self.IGNORE_INDEX))

    def __len__(self):
        return len(self.records)

    def _describe(self, record):
        return "image {} (label {})".format(record["image_id"], record["label_path"])

    def __getitem__(self, idx):
        record = self.records[idx]
        image = read_rgb(record["image_path"], "image")
        label = read_rgb(record["label_path"], "panoptic label")
        check_same_size(image, label, record)
        segments = record["segments_info"]
        ids = self.rgb2id(label)
        check_segment_ids(ids, segments, self._describe(record))
        if self.mode == "train":
            data = self.transforms({"img": image.astype(np.float32), "label": label,
                                    "gt_fields": ["label"], "trans_info": []})
            targets = self.target_generator(np.ascontiguousarray(data["label"]), segments)
            sample = {"image": np.ascontiguousarray(data["img"], dtype=np.float32)}
            for key in TRAIN_KEYS[1:]:
                sample[key] = targets[key]
            return sample
        data = self.transforms({"img": image.astype(np.float32), "gt_fields": [],
                                "trans_info": []})
        raw_semantic, raw_instance, raw_panoptic = self.raw_labels(ids, segments)
        return {
            "image": np.ascontiguousarray(data["img"], dtype=np.float32),
            "raw_semantic": raw_semantic,
            "raw_instance": raw_instance,
            "raw_panoptic": raw_panoptic,
            "index": np.int64(idx),
        }

    # ------------------------------------------------------------------ official evaluation
    def official_writer(self, out_dir):
        """Writer of predictions for cityscapesScripts' panoptic evaluator, which reads the
        categories from this dataset's json (so it works for any category set)."""
        from paddleseg_panoptic.evaluation.official_panoptic import PanopticOfficialWriter

        return PanopticOfficialWriter(out_dir, self.json_path, self.label_dir,
                                      self.category_ids, self.label_divisor, self.IGNORE_INDEX)
