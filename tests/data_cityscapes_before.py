"""CityscapesPanoptic as it was before PanopticDataset existed (frozen, unregistered): the
reference that the Cityscapes case of PanopticDataset must reproduce sample for sample."""
import json
import os

import cv2
import numpy as np
import paddle
from paddleseg.transforms import Compose

from paddleseg_panoptic.datasets import meta
from paddleseg_panoptic.datasets.prepare import how_to_make, panoptic_json_path, panoptic_png_dir
from paddleseg_panoptic.transforms.raw_labels import raw_instance, raw_panoptic, raw_semantic
from paddleseg_panoptic.utils.panoptic_ids import rgb2id
from paddleseg_panoptic.transforms.target_generator import PanopticTargetGenerator

TRAIN_KEYS = ("image", "semantic", "semantic_weights", "center", "center_weights", "offset",
              "offset_weights", "foreground")
VAL_KEYS = ("image", "raw_semantic", "raw_instance", "raw_panoptic", "index")
_LABEL_SUFFIX = "_gtFine_panoptic.png"


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



class CityscapesPanopticBefore(paddle.io.Dataset):
    """Cityscapes panoptic, as written by cityscapesScripts' ``createPanopticImgs
    --use-train-id`` (``tools/prepare_cityscapes.py``).

    Layout under ``dataset_root``: ``leftImg8bit/{mode}/{city}/{name}_leftImg8bit.png``,
    ``gtFine/cityscapes_panoptic_{mode}_trainId.json`` and
    ``gtFine/cityscapes_panoptic_{mode}_trainId/{name}_gtFine_panoptic.png``.

    Samples are dicts of numpy arrays (Paddle's default collate batches them):

    - ``mode='train'``: ``image`` [3, H, W] float32, ``semantic`` [H, W] int64,
      ``semantic_weights`` [H, W] float32, ``center`` [1, H, W] float32, ``center_weights``
      [H, W] float32, ``offset`` [2, H, W] float32 (dy, dx), ``offset_weights`` [H, W] float32,
      ``foreground`` [H, W] int64; targets are computed from the augmented label.
    - ``mode='val'``: ``image`` [3, Hp, Wp] float32 (after the transforms, e.g. padded),
      ``raw_semantic``, ``raw_instance``, ``raw_panoptic`` [H, W] int64 from the PNG as stored,
      and ``index`` (int64), the position in :attr:`records`.

    ``records[i]`` is ``{'image_path', 'label_path', 'image_id', 'segments_info'}``.

    Args:
        transforms (list): paddleseg transform objects applied to the RGB image and the RGB
            panoptic label together (labels are resized with nearest neighbour; pad labels
            with ``label_padding_value=[0, 0, 0]``, the unlabeled id).
        dataset_root (str): Cityscapes folder.
        mode (str): ``'train'`` or ``'val'``.
        ignore_stuff_in_offset (bool): offset weights only on thing segments.
        small_instance_area (int): thing segments with fewer pixels (after augmentation) get
            ``small_instance_weight`` in ``semantic_weights``.
        small_instance_weight (float): see above.
        stuff_area (int): minimum stuff area used by post-processing.
    """
    NUM_CLASSES = meta.NUM_CLASSES
    IGNORE_INDEX = meta.IGNORE_INDEX
    thing_list = list(meta.THING_LIST)
    label_divisor = meta.LABEL_DIVISOR
    class_names = list(meta.CLASS_NAMES)
    palette = [list(c) for c in meta.PALETTE]

    def __init__(self, transforms, dataset_root, mode="train", ignore_stuff_in_offset=False,
                 small_instance_area=0, small_instance_weight=1, stuff_area=meta.STUFF_AREA):
        mode = str(mode).lower()
        if mode not in ("train", "val"):
            raise ValueError("mode should be 'train' or 'val', got {!r}".format(mode))
        if transforms is None or not isinstance(transforms, (list, tuple)):
            raise TypeError("transforms must be a list of transform objects, got {!r}".format(
                transforms))
        self.dataset_root = dataset_root
        self.mode = mode
        self.num_classes = self.NUM_CLASSES
        self.ignore_index = self.IGNORE_INDEX
        self.stuff_area = stuff_area
        # Images are read as RGB here, so paddleseg's Compose must not swap channels again.
        self.transforms = Compose(list(transforms), to_rgb=False)
        self.records = self._load_records(dataset_root, mode)
        self.file_list = [[r["image_path"], r["label_path"]] for r in self.records]
        self.target_generator = PanopticTargetGenerator(
            self.IGNORE_INDEX, self.rgb2id, self.thing_list, sigma=8,
            ignore_stuff_in_offset=ignore_stuff_in_offset,
            small_instance_area=small_instance_area,
            small_instance_weight=small_instance_weight)

    @staticmethod
    def rgb2id(color):
        """Panoptic colour -> id, ``R + 256 G + 256^2 B`` (array [H, W, 3] or one colour)."""
        return rgb2id(color)

    @staticmethod
    def _load_records(root, mode):
        json_path = panoptic_json_path(root, mode)
        for path in (os.path.join(root, "leftImg8bit"), os.path.join(root, "gtFine")):
            if not os.path.isdir(path):
                raise FileNotFoundError("Dataset folder {} is missing. {}".format(
                    path, how_to_make(root)))
        if not os.path.isfile(json_path):
            raise FileNotFoundError("Panoptic annotation {} is missing. {}".format(
                json_path, how_to_make(root)))
        try:
            with open(json_path) as f:
                annotations = json.load(f)["annotations"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError("{} is not a COCO panoptic annotation file ({}). Re-create it: "
                             "{}".format(json_path, err, how_to_make(root))) from None
        if not annotations:
            raise ValueError("{} lists no annotations: the '{}' split is empty. {}".format(
                json_path, mode, how_to_make(root)))
        label_dir = panoptic_png_dir(root, mode)
        records = []
        for ann in annotations:
            file_name = ann["file_name"]
            if not file_name.endswith(_LABEL_SUFFIX):
                raise ValueError("{}: annotation file name {!r} does not end with {!r}".format(
                    json_path, file_name, _LABEL_SUFFIX))
            name = file_name[:-len(_LABEL_SUFFIX)]
            label_path = os.path.join(label_dir, file_name)
            image_path = os.path.join(root, "leftImg8bit", mode, name.split("_")[0],
                                      name + "_leftImg8bit.png")
            if not os.path.isfile(label_path):
                raise FileNotFoundError(
                    "Panoptic label {} listed in {} is missing. {}".format(
                        label_path, json_path, how_to_make(root)))
            if not os.path.isfile(image_path):
                raise FileNotFoundError(
                    "Image {} of annotation {} (in {}) is missing.".format(
                        image_path, label_path, json_path))
            records.append({"image_path": image_path, "label_path": label_path,
                            "image_id": ann.get("image_id", name),
                            "segments_info": ann["segments_info"]})
        return records

    def __len__(self):
        return len(self.records)

    def __getitem__(self, idx):
        record = self.records[idx]
        image = read_rgb(record["image_path"], "image")
        label = read_rgb(record["label_path"], "panoptic label")
        if image.shape[:2] != label.shape[:2]:
            raise ValueError("image {} is {}x{} but its label {} is {}x{}".format(
                record["image_path"], image.shape[0], image.shape[1], record["label_path"],
                label.shape[0], label.shape[1]))
        segments = record["segments_info"]
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
        ids = self.rgb2id(label)  # converted once for the three raw labels
        return {
            "image": np.ascontiguousarray(data["img"], dtype=np.float32),
            "raw_semantic": raw_semantic(ids, segments, self.IGNORE_INDEX),
            "raw_instance": raw_instance(ids, label_divisor=self.label_divisor),
            "raw_panoptic": raw_panoptic(ids, segments, self.IGNORE_INDEX, self.label_divisor),
            "index": np.int64(idx),
        }
