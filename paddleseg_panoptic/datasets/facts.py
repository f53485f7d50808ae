"""The class facts that flow from a dataset to post-processing, evaluators and pictures.

One frozen value, :class:`DatasetFacts`, built either from a dataset object (evaluation,
training's evaluation) or from a config's ``val_dataset`` without building the dataset
(prediction, which has no labels to read). Whatever a dataset or config leaves out falls back
to the Cityscapes facts of ``datasets/meta.py``.
"""
import dataclasses
import inspect

from paddleseg_panoptic.datasets import meta

__all__ = ["DatasetFacts", "check_same_classes"]

# field -> dataset / dataset-class attribute names, first found wins.
_ATTRIBUTES = {
    "num_classes": ("NUM_CLASSES", "num_classes"),
    "thing_list": ("thing_list", "THING_LIST"),
    "label_divisor": ("label_divisor", "LABEL_DIVISOR"),
    "ignore_index": ("IGNORE_INDEX", "ignore_index"),
    "stuff_area": ("stuff_area", "STUFF_AREA"),
    "class_names": ("class_names", "CLASS_NAMES"),
    "palette": ("palette", "PALETTE"),
    "category_ids": ("category_ids",),
}


@dataclasses.dataclass(frozen=True)
class DatasetFacts:
    """Class facts of a dataset (defaults: Cityscapes, see ``datasets/meta.py``).

    Attributes:
        num_classes (int): semantic classes (train ids 0 .. num_classes - 1).
        thing_list (tuple[int]): classes that have instances.
        label_divisor (int): panoptic id = class * label_divisor + instance.
        ignore_index (int): the void label.
        stuff_area (int): smallest stuff segment kept by post-processing (pixels).
        class_names (tuple[str]): by class id.
        palette (tuple[tuple[int, int, int]]): RGB colour by class id.
        category_ids (tuple[int]): the dataset's category id of each class (what its json
            and the official panoptic evaluator use); empty means ``0 .. num_classes - 1``.
    """
    num_classes: int = meta.NUM_CLASSES
    thing_list: tuple = meta.THING_LIST
    label_divisor: int = meta.LABEL_DIVISOR
    ignore_index: int = meta.IGNORE_INDEX
    stuff_area: int = meta.STUFF_AREA
    class_names: tuple = meta.CLASS_NAMES
    palette: tuple = meta.PALETTE
    category_ids: tuple = ()

    def __post_init__(self):
        if not self.category_ids:
            object.__setattr__(self, "category_ids", tuple(range(self.num_classes)))

    @classmethod
    def _normalised(cls, values):
        """Build from raw values (lists, numpy ints ...), as hashable plain types."""
        return cls(
            num_classes=int(values["num_classes"]),
            thing_list=tuple(int(c) for c in values["thing_list"]),
            label_divisor=int(values["label_divisor"]),
            ignore_index=int(values["ignore_index"]),
            stuff_area=int(values["stuff_area"]),
            class_names=tuple(str(n) for n in values["class_names"]),
            palette=tuple(tuple(int(v) for v in c) for c in values["palette"]),
            category_ids=tuple(int(c) for c in values.get("category_ids") or ()),
        )

    @classmethod
    def from_dataset(cls, dataset):
        """The facts of a built dataset, read from its attributes (see ``_ATTRIBUTES``).

        Args:
            dataset: e.g. a ``CityscapesPanoptic``; missing attributes take the defaults.
        """
        values = {}
        for field, attrs in _ATTRIBUTES.items():
            values[field] = getattr(cls, field)
            for attr in attrs:
                value = getattr(dataset, attr, None)
                if value is not None:
                    values[field] = value
                    break
        return cls._normalised(values)

    @classmethod
    def from_config(cls, cfg):
        """The facts of a config's validation dataset, without building it (no files read).

        ``val_dataset`` keys win over what the dataset class's ``class_facts(spec)`` reads
        (e.g. a json's categories), then over its attributes, then over its constructor
        defaults, then over the defaults of this class.

        Args:
            cfg (paddleseg_panoptic.cvlibs.config.Config): the loaded config.
        """
        spec = cfg.dic.get("val_dataset") or {}
        dataset_class = cfg.val_dataset_class if spec else None
        # A dataset whose classes come from its files (PanopticDataset: the json's
        # categories) describes them without being built.
        described = {}
        if dataset_class is not None and hasattr(dataset_class, "class_facts"):
            described = dataset_class.class_facts(spec)
        try:
            parameters = (inspect.signature(dataset_class).parameters
                          if dataset_class is not None else {})
        except (TypeError, ValueError):
            parameters = {}

        def fact(field):
            if spec.get(field) is not None:
                return spec[field]
            if described.get(field) is not None:
                return described[field]
            if dataset_class is not None:
                for attr in _ATTRIBUTES[field]:
                    if getattr(dataset_class, attr, None) is not None:
                        return getattr(dataset_class, attr)
            default = (parameters[field].default if field in parameters
                       else inspect.Parameter.empty)
            if default in (inspect.Parameter.empty, None):
                return getattr(cls, field)
            return default

        return cls._normalised({field: fact(field) for field in _ATTRIBUTES})


def check_same_classes(train_dataset, val_dataset):
    """Raises ValueError when two datasets disagree on their classes (number, category ids,
    things): a model trained on one would be scored against the other's classes.

    Args:
        train_dataset, val_dataset: datasets (see :meth:`DatasetFacts.from_dataset`).
    """
    train, val = DatasetFacts.from_dataset(train_dataset), DatasetFacts.from_dataset(val_dataset)
    for field in ("num_classes", "category_ids", "thing_list", "label_divisor"):
        if getattr(train, field) != getattr(val, field):
            raise ValueError("the training and validation datasets differ in {}: {} vs {} "
                             "(their category lists must be the same, in the same order)".format(
                                 field, getattr(train, field), getattr(val, field)))
