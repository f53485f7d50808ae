"""CityscapesPanoptic on the tiny toy set: lengths, dtypes, shapes, raw labels, transforms."""
import numpy as np
import paddleseg.transforms as T
import pytest

from paddleseg_panoptic.datasets import CityscapesPanoptic

from conftest import TOY_HEIGHT, TOY_NUM_TRAIN, TOY_NUM_VAL, TOY_WIDTH

TRAIN_SPEC = {
    "image": (np.float32, (3, TOY_HEIGHT, TOY_WIDTH)),
    "semantic": (np.int64, (TOY_HEIGHT, TOY_WIDTH)),
    "semantic_weights": (np.float32, (TOY_HEIGHT, TOY_WIDTH)),
    "center": (np.float32, (1, TOY_HEIGHT, TOY_WIDTH)),
    "center_weights": (np.float32, (TOY_HEIGHT, TOY_WIDTH)),
    "offset": (np.float32, (2, TOY_HEIGHT, TOY_WIDTH)),
    "offset_weights": (np.float32, (TOY_HEIGHT, TOY_WIDTH)),
    "foreground": (np.int64, (TOY_HEIGHT, TOY_WIDTH)),
}


def test_train_samples_have_the_documented_keys_dtypes_and_shapes(toy_cityscapes_root):
    ds = CityscapesPanoptic([T.Normalize()], toy_cityscapes_root, mode="train")
    assert len(ds) == TOY_NUM_TRAIN
    sample = ds[0]
    assert set(sample) == set(TRAIN_SPEC)
    for key, (dtype, shape) in TRAIN_SPEC.items():
        assert sample[key].dtype == dtype, key
        assert sample[key].shape == shape, key
    assert -1.0 <= sample["image"].min() and sample["image"].max() <= 1.0
    assert set(np.unique(sample["foreground"])) == {0, 1}


def test_dataset_facts_and_registration():
    from paddleseg.cvlibs import manager

    assert manager.DATASETS["CityscapesPanoptic"] is CityscapesPanoptic
    assert CityscapesPanoptic.NUM_CLASSES == 19 and CityscapesPanoptic.IGNORE_INDEX == 255
    assert CityscapesPanoptic.thing_list == list(range(11, 19))
    assert CityscapesPanoptic.label_divisor == 1000
    assert len(CityscapesPanoptic.class_names) == len(CityscapesPanoptic.palette) == 19
    assert CityscapesPanoptic.palette[0] == [128, 64, 128]
    assert CityscapesPanoptic.rgb2id((145, 101, 0)) == 26001


def test_records_point_at_existing_files(toy_cityscapes_root):
    ds = CityscapesPanoptic([T.Normalize()], toy_cityscapes_root, mode="val")
    assert len(ds) == TOY_NUM_VAL
    rec = ds.records[1]
    assert set(rec) == {"image_path", "label_path", "image_id", "segments_info"}
    assert rec["image_path"].endswith(
        "leftImg8bit/val/frankfurt/{}_leftImg8bit.png".format(rec["image_id"]))
    assert rec["label_path"].endswith(
        "gtFine/cityscapes_panoptic_val_trainId/{}_gtFine_panoptic.png".format(rec["image_id"]))
    assert ds.file_list[1] == [rec["image_path"], rec["label_path"]]


def test_val_samples_pad_the_image_and_keep_raw_labels_as_stored(toy_cityscapes_root):
    from PIL import Image

    from data_slow_reference import slow_raw_instance, slow_raw_panoptic, slow_raw_semantic

    ds = CityscapesPanoptic(
        [T.Padding([TOY_WIDTH + 64, TOY_HEIGHT + 32], label_padding_value=[0, 0, 0]),
         T.Normalize()], toy_cityscapes_root, mode="val")
    sample = ds[1]
    assert set(sample) == {"image", "raw_semantic", "raw_instance", "raw_panoptic", "index"}
    assert sample["image"].shape == (3, TOY_HEIGHT + 32, TOY_WIDTH + 64)
    assert sample["image"].dtype == np.float32
    assert (sample["image"][:, TOY_HEIGHT:, :] == 0).all()  # 127.5 padding, normalised
    assert sample["index"] == 1 and sample["index"].dtype == np.int64
    rec = ds.records[1]
    label = np.asarray(Image.open(rec["label_path"]).convert("RGB"))
    segments = rec["segments_info"]
    for key, expected in [("raw_semantic", slow_raw_semantic(label, segments)),
                          ("raw_instance", slow_raw_instance(label)),
                          ("raw_panoptic", slow_raw_panoptic(label, segments))]:
        assert sample[key].dtype == np.int64 and sample[key].shape == (TOY_HEIGHT, TOY_WIDTH)
        np.testing.assert_array_equal(sample[key], expected, err_msg=key)
    # The image is read as RGB: compare with PIL's decoding of the same file.
    rgb = np.asarray(Image.open(rec["image_path"]).convert("RGB"), dtype=np.float32)
    np.testing.assert_allclose(sample["image"][:, :TOY_HEIGHT, :TOY_WIDTH],
                               (rgb.transpose(2, 0, 1) / 255 - 0.5) / 0.5, atol=1e-6)


def test_transforms_move_image_and_label_together(toy_cityscapes_root):
    plain = CityscapesPanoptic([T.Normalize()], toy_cityscapes_root, mode="train")[2]
    flipped = CityscapesPanoptic([T.RandomHorizontalFlip(prob=1.0), T.Normalize()],
                                 toy_cityscapes_root, mode="train")[2]
    np.testing.assert_array_equal(flipped["image"], plain["image"][:, :, ::-1])
    for key in ("semantic", "foreground", "center_weights", "offset_weights"):
        np.testing.assert_array_equal(flipped[key], plain[key][:, ::-1], err_msg=key)
    # Offsets are recomputed from the flipped label: dy is mirrored, dx changes sign.
    np.testing.assert_allclose(flipped["offset"][0], plain["offset"][0][:, ::-1], atol=1e-4)
    np.testing.assert_allclose(flipped["offset"][1], -plain["offset"][1][:, ::-1], atol=1e-4)

    # Scaling by exactly 2 uses nearest neighbour on the label: each pixel becomes 2 x 2.
    doubled = CityscapesPanoptic([T.ResizeStepScaling(2.0, 2.0), T.Normalize()],
                                 toy_cityscapes_root, mode="train")[2]
    np.testing.assert_array_equal(doubled["semantic"],
                                  plain["semantic"].repeat(2, axis=0).repeat(2, axis=1))


def test_padding_crop_pads_the_label_with_unlabeled(toy_cityscapes_root):
    ds = CityscapesPanoptic(
        [T.RandomPaddingCrop([TOY_WIDTH + 40, TOY_HEIGHT + 24], label_padding_value=[0, 0, 0]),
         T.Normalize()], toy_cityscapes_root, mode="train",
        ignore_stuff_in_offset=True, small_instance_area=100, small_instance_weight=3)
    sample = ds[0]
    assert sample["semantic"].shape == (TOY_HEIGHT + 24, TOY_WIDTH + 40)
    pad = np.zeros(sample["semantic"].shape, dtype=bool)
    pad[TOY_HEIGHT:, :] = pad[:, TOY_WIDTH:] = True
    assert (sample["semantic"][pad] == 255).all()
    assert not sample["center_weights"][pad].any() and not sample["foreground"][pad].any()
    assert (sample["image"][:, pad] == 0).all()
    assert (sample["semantic"][~pad] != 255).any()


def test_default_collate_batches_the_dicts(toy_cityscapes_root):
    import paddle

    ds = CityscapesPanoptic([T.Normalize()], toy_cityscapes_root, mode="train")
    batch = next(iter(paddle.io.DataLoader(ds, batch_size=2)))
    assert list(batch["image"].shape) == [2, 3, TOY_HEIGHT, TOY_WIDTH]
    assert list(batch["offset"].shape) == [2, 2, TOY_HEIGHT, TOY_WIDTH]
    assert batch["semantic"].dtype == paddle.int64



def test_center_sigma_sets_the_width_of_the_centre_gaussians(toy_cityscapes_root):
    def first_sample(**kwargs):
        return CityscapesPanoptic([T.Normalize()], toy_cityscapes_root, mode="train",
                                  **kwargs)[0]

    default, narrow = first_sample(), first_sample(center_sigma=2)
    for key in ("semantic", "offset", "center_weights", "offset_weights"):
        np.testing.assert_array_equal(narrow[key], default[key])
    # Each centre is a Gaussian peak of 1: two pixels to its side, exp(-2^2 / (2 sigma^2)).
    peaks = np.argwhere(narrow["center"][0] == 1.0)
    assert len(peaks) > 0
    for y, x in peaks:
        side = narrow["center"][0, y, [x - 2, x + 2]]
        np.testing.assert_allclose(side, np.exp(-4 / (2 * 2.0 ** 2)), rtol=1e-6)
        side = default["center"][0, y, [x - 2, x + 2]]
        np.testing.assert_allclose(side, np.exp(-4 / (2 * 8.0 ** 2)), rtol=1e-6)
    with pytest.raises(ValueError, match="center_sigma must be a positive"):
        first_sample(center_sigma=0)
