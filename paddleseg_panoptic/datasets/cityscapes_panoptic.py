"""Cityscapes panoptic segmentation: the Cityscapes case of :class:`PanopticDataset`."""
import os

from paddleseg_panoptic.cvlibs.manager import DATASETS, register
from paddleseg_panoptic.datasets import meta
from paddleseg_panoptic.datasets.panoptic import CENTER_SIGMA, PanopticDataset, check_mode
from paddleseg_panoptic.datasets.prepare import how_to_make, panoptic_json_path, panoptic_png_dir
from paddleseg_panoptic.transforms.raw_labels import raw_instance, raw_panoptic, raw_semantic

_LABEL_SUFFIX = "_gtFine_panoptic.png"


@register(DATASETS)
class CityscapesPanoptic(PanopticDataset):
    """Cityscapes panoptic, as written by cityscapesScripts' ``createPanopticImgs
    --use-train-id`` (``tools/prepare_cityscapes.py``).

    Layout under ``dataset_root``: ``leftImg8bit/{mode}/{city}/{name}_leftImg8bit.png``,
    ``gtFine/cityscapes_panoptic_{mode}_trainId.json`` and
    ``gtFine/cityscapes_panoptic_{mode}_trainId/{name}_gtFine_panoptic.png``.

    What differs from :class:`PanopticDataset`: the paths follow from ``mode`` and the
    Cityscapes names; the class facts are the fixed Cityscapes ones (``datasets/meta.py``,
    category id = train id, as the converter writes with train ids); segment ids follow
    Cityscapes' ``labelId * 1000 + k`` convention, so the raw panoptic label keeps that ``k``
    (``train id * 1000 + k``) and raw instances are the ids above 1000 in ascending order.
    Samples are described in :class:`PanopticDataset`.

    Args:
        transforms (list): paddleseg transform objects (see :class:`PanopticDataset`).
        dataset_root (str): Cityscapes folder.
        mode (str): ``'train'`` or ``'val'``.
        ignore_stuff_in_offset, small_instance_area, small_instance_weight, stuff_area,
            center_sigma: see :class:`PanopticDataset`.
    """
    NUM_CLASSES = meta.NUM_CLASSES
    IGNORE_INDEX = meta.IGNORE_INDEX
    thing_list = list(meta.THING_LIST)
    label_divisor = meta.LABEL_DIVISOR
    class_names = list(meta.CLASS_NAMES)
    palette = [list(c) for c in meta.PALETTE]
    category_ids = list(range(meta.NUM_CLASSES))

    def __init__(self, transforms, dataset_root, mode="train", ignore_stuff_in_offset=False,
                 small_instance_area=0, small_instance_weight=1, stuff_area=meta.STUFF_AREA,
                 center_sigma=CENTER_SIGMA):
        mode = check_mode(mode)
        super().__init__(
            transforms, dataset_root,
            json_path=os.path.relpath(panoptic_json_path(dataset_root, mode), dataset_root),
            image_dir=os.path.join("leftImg8bit", mode),
            label_dir=os.path.relpath(panoptic_png_dir(dataset_root, mode), dataset_root),
            mode=mode, ignore_stuff_in_offset=ignore_stuff_in_offset,
            small_instance_area=small_instance_area,
            small_instance_weight=small_instance_weight, stuff_area=stuff_area,
            label_divisor=meta.LABEL_DIVISOR, center_sigma=center_sigma)
        self.num_classes = self.NUM_CLASSES

    @classmethod
    def class_facts(cls, spec):
        """The fixed Cityscapes facts (nothing is read)."""
        return {"num_classes": cls.NUM_CLASSES, "category_ids": cls.category_ids,
                "class_names": cls.class_names, "thing_list": cls.thing_list,
                "palette": cls.palette}

    def _set_classes(self, categories):
        pass  # the class attributes above

    def _hint(self):
        return how_to_make(self.dataset_root)

    def _check_layout(self):
        root = self.dataset_root
        for path in (os.path.join(root, "leftImg8bit"), os.path.join(root, "gtFine")):
            if not os.path.isdir(path):
                raise FileNotFoundError("Dataset folder {} is missing. {}".format(
                    path, self._hint()))

    def _image_path(self, annotation, images):
        file_name = annotation["file_name"]
        if not file_name.endswith(_LABEL_SUFFIX):
            raise ValueError("{}: annotation file name {!r} does not end with {!r}".format(
                self.json_path, file_name, _LABEL_SUFFIX))
        name = file_name[:-len(_LABEL_SUFFIX)]
        return os.path.join(self.image_dir, name.split("_")[0], name + "_leftImg8bit.png")

    def raw_labels(self, ids, segments):
        return (raw_semantic(ids, segments, self.IGNORE_INDEX),
                raw_instance(ids, label_divisor=self.label_divisor),
                raw_panoptic(ids, segments, self.IGNORE_INDEX, self.label_divisor))

    def official_writer(self, out_dir):
        """Writer for cityscapesScripts' panoptic, instance and pixel evaluators, which read
        the Cityscapes label ids of ``gtFine/{mode}/``."""
        from paddleseg_panoptic.evaluation.official import OfficialWriter

        return OfficialWriter(out_dir, self.dataset_root, split=self.mode,
                              label_divisor=self.label_divisor)
