"""Fusion and the whole chain: hand-made maps with known ids, then random ones vs the reference
implementation."""
import numpy as np
import paddle
import pytest

from paddleseg_panoptic.postprocess import (get_instance_segmentation,
                                            merge_semantic_and_instance, panoptic_postprocess,
                                            reference)
from paddleseg_panoptic.postprocess.fusion import _merge_paddle

THINGS = [11, 12, 13]
IGNORE = 255


def merge(semantic, instance, stuff_area=3):
    return merge_semantic_and_instance(np.array([semantic]), np.array([instance]), 1000,
                                       THINGS, stuff_area, IGNORE)[0]


def test_majority_vote_tie_takes_the_smallest_class_and_counters_per_class():
    semantic = [[11, 11, 12, 12],
                [13, 13, 13, 11],
                [11, 11, 0, 0]]
    instance = [[1, 1, 1, 1],
                [2, 2, 2, 4],
                [4, 4, 0, 0]]
    # id 1: two pixels of 11 and two of 12 -> tie -> class 11, first 11 -> 11001.
    # id 2: three pixels of 13 -> 13001.
    # id 4 (no id 3): class 11, the second instance of 11 -> 11002.
    # (2, 2), (2, 3): stuff class 0, two uncovered pixels < stuff_area 3 -> ignore.
    np.testing.assert_array_equal(merge(semantic, instance), [[11001] * 4,
                                                               [13001] * 3 + [11002],
                                                               [11002, 11002, 255, 255]])


def test_stuff_area_below_and_at_the_limit():
    semantic = [[0, 0, 0, 1, 1],
                [2, 2, 2, 2, 1]]
    instance = [[0, 0, 0, 0, 0],
                [0, 0, 0, 7, 0]]
    # class 0: 3 uncovered pixels = stuff_area 3 -> kept. class 1: 3 pixels -> kept.
    # class 2: 4 pixels but (1, 3) carries instance 7 on a stuff class: that pixel belongs to
    # neither the instance (not a thing pixel) nor the stuff mask (instance != 0) -> ignore;
    # 3 uncovered pixels remain -> kept.
    np.testing.assert_array_equal(merge(semantic, instance, 3), [[0, 0, 0, 1, 1],
                                                                  [2, 2, 2, 255, 1]])
    # With stuff_area 4 every class is below the limit.
    np.testing.assert_array_equal(merge(semantic, instance, 4), np.full((2, 5), 255))


def test_thing_pixels_without_instance_are_ignored_and_empty_ids_use_no_number():
    semantic = [[12, 12, 0],
                [12, 12, 0]]
    instance = [[0, 3, 5],
                [9, 9, 5]]
    # (0, 0): thing class, no instance -> ignore. id 3 -> first 12 -> 12001. id 5 lies only on
    # stuff pixels: empty mask, skipped without using a number, so id 9 -> 12002.
    # Stuff class 0 has no uncovered pixel -> nothing pasted.
    np.testing.assert_array_equal(merge(semantic, instance, 0), [[255, 12001, 255],
                                                                  [12002, 12002, 255]])


def random_maps(rng, height, width):
    semantic = rng.choice([0, 1, 2, 11, 12, 13], size=(1, height, width)).astype(np.int64)
    instance = rng.integers(0, 6, size=(1, height, width)).astype(np.int64)
    instance[rng.random((1, height, width)) < 0.3] = 0
    return semantic, instance


def test_random_fusion_equals_reference_numpy_and_paddle():
    rng = np.random.default_rng(4)
    for _ in range(30):
        height, width = rng.integers(2, 12, size=2)
        semantic, instance = random_maps(rng, height, width)
        stuff_area = int(rng.integers(0, 8))
        want = reference.merge(semantic, instance, 1000, THINGS, stuff_area, IGNORE)
        got = merge_semantic_and_instance(semantic, instance, 1000, THINGS, stuff_area, IGNORE)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, want)
        tensor = merge_semantic_and_instance(paddle.to_tensor(semantic),
                                             paddle.to_tensor(instance), 1000, THINGS,
                                             stuff_area, IGNORE)
        assert isinstance(tensor, paddle.Tensor)
        np.testing.assert_array_equal(tensor.numpy(), want)
        native = _merge_paddle(paddle.to_tensor(semantic[0]), paddle.to_tensor(instance[0]),
                               1000, THINGS, stuff_area, IGNORE)
        np.testing.assert_array_equal(native.numpy(), want[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"label_divisor": 0}, "label_divisor"),
    ({"thing_list": None}, "thing_list"),
    ({"instance": np.zeros((1, 3, 3), np.int64)}, "same shape"),
    ({"semantic": np.full((1, 2, 2), -1)}, "non-negative"),
    ({"instance": np.full((1, 2, 2), -1)}, "non-negative ids"),
])
def test_fusion_bad_input_raises(kwargs, match):
    args = {"semantic": np.zeros((1, 2, 2), np.int64), "instance": np.zeros((1, 2, 2), np.int64),
            "label_divisor": 1000, "thing_list": THINGS, "stuff_area": 1, "ignore_index": 255}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        merge_semantic_and_instance(**args)


def logits_for(semantic, num_classes=14):
    """Logits whose argmax is ``semantic`` [H, W]."""
    logits = np.zeros((num_classes,) + semantic.shape, np.float32)
    np.put_along_axis(logits, semantic[None], 5.0, axis=0)
    return logits


def test_chain_crops_only_after_full_processing():
    # 6x6 padded output, original image 4x4 (padding at the bottom / right). Stuff class 1 has
    # 3 pixels inside the image and 2 in the padding; stuff_area 5. Processing the full output
    # counts 5 >= 5 and keeps class 1 inside the image; cropping first would count 3 and drop it.
    semantic = np.zeros((6, 6), np.int64)
    semantic[0, :3] = 1
    semantic[5, 4:] = 1
    semantic[2:4, 2:4] = 11  # a thing, centre at (3, 3), offsets 0
    hmp = np.zeros((1, 6, 6), np.float32)
    hmp[0, 3, 3] = 0.9
    out = panoptic_postprocess(logits_for(semantic), hmp, np.zeros((2, 6, 6), np.float32),
                               thing_list=[11], label_divisor=1000, stuff_area=5,
                               ignore_index=IGNORE, output_size=(4, 4))
    want = np.zeros((4, 4), np.int64)  # class 0: 36 - 5 - 4 = 27 pixels, kept
    want[0, :3] = 1
    want[2:4, 2:4] = 11001
    np.testing.assert_array_equal(out["panoptic"], want)
    np.testing.assert_array_equal(out["semantic"], semantic[:4, :4])
    np.testing.assert_array_equal(out["instance"], (want == 11001).astype(np.int64))
    np.testing.assert_array_equal(out["centers"], [[3, 3]])
    assert out["semantic_softmax"].shape == (14, 4, 4)
    assert out["center_heatmap"].shape == (4, 4) and out["center_heatmap"][3, 3] == np.float32(0.9)


def test_chain_equals_the_composed_functions_numpy_and_paddle():
    rng = np.random.default_rng(5)
    for _ in range(6):
        height, width = rng.integers(8, 24, size=2)
        logits = rng.standard_normal((14, height, width)).astype(np.float32)
        hmp = (rng.random((1, height, width)) ** 4).astype(np.float32)
        off = (rng.standard_normal((2, height, width)) * 3).astype(np.float32)
        size = (int(rng.integers(1, height + 1)), int(rng.integers(1, width + 1)))
        kwargs = dict(thing_list=THINGS, label_divisor=1000, stuff_area=4, ignore_index=IGNORE,
                      threshold=0.1, nms_kernel=3, top_k=5)
        semantic = logits.argmax(axis=0)[None]
        instance, centers = get_instance_segmentation(semantic, hmp, off, THINGS, 0.1, 3, 5)
        panoptic = merge_semantic_and_instance(semantic, instance, 1000, THINGS, 4, IGNORE)
        out = panoptic_postprocess(logits[None], hmp, off, output_size=size, **kwargs)
        h0, w0 = size
        np.testing.assert_array_equal(out["semantic"], semantic[0, :h0, :w0])
        np.testing.assert_array_equal(out["instance"], instance[0, :h0, :w0])
        np.testing.assert_array_equal(out["panoptic"], panoptic[0, :h0, :w0])
        np.testing.assert_array_equal(out["center_heatmap"], hmp[0, :h0, :w0])
        if centers is None:
            assert out["centers"] is None
        else:
            np.testing.assert_array_equal(out["centers"], centers[0])
        soft = paddle.nn.functional.softmax(paddle.to_tensor(logits), axis=0).numpy()
        np.testing.assert_allclose(out["semantic_softmax"], soft[:, :h0, :w0], rtol=1e-5,
                                   atol=1e-7)
        assert {k: v.dtype for k, v in out.items() if v is not None} == {
            "semantic": np.int64, "semantic_softmax": np.float32, "instance": np.int64,
            "panoptic": np.int64, "center_heatmap": np.float32, "centers": np.int64}
        tensors = panoptic_postprocess(paddle.to_tensor(logits), paddle.to_tensor(hmp),
                                       paddle.to_tensor(off), output_size=size, **kwargs)
        for key, value in out.items():
            if value is None:
                assert tensors[key] is None
            else:
                assert isinstance(tensors[key], paddle.Tensor)
                np.testing.assert_array_equal(tensors[key].numpy(), value)


def test_chain_equals_the_reference_implementation():
    # Coarse logits (many ties, class 0 among them), crowded centres with half-pixel votes
    # (ties between centres), several crops.
    rng = np.random.default_rng(8)
    for _ in range(5):
        height, width = (int(v) for v in rng.integers(10, 40, size=2))
        logits = np.round(rng.standard_normal((14, height, width))).astype(np.float32)
        logits[11:14] += 1.0  # more thing pixels
        hmp = (rng.random((1, height, width)) ** 3).astype(np.float32)
        off = (np.round(rng.standard_normal((2, height, width)) * 6) / 2).astype(np.float32)
        size = (int(rng.integers(1, height + 1)), int(rng.integers(1, width + 1)))
        kwargs = dict(thing_list=THINGS, label_divisor=1000, stuff_area=5, ignore_index=IGNORE,
                      threshold=0.1, nms_kernel=3, top_k=12, output_size=size)
        want = reference.postprocess(logits, hmp, off, **kwargs)
        got = panoptic_postprocess(logits, hmp, off, **kwargs)
        assert want["centers"] is not None and int(want["instance"].max()) > 1
        for key in ("semantic", "instance", "panoptic", "center_heatmap", "centers"):
            np.testing.assert_array_equal(got[key], want[key])
        np.testing.assert_allclose(got["semantic_softmax"], want["semantic_softmax"],
                                   rtol=1e-6, atol=1e-7)


def test_chain_paddle_device_implementation_matches_numpy():
    from paddleseg_panoptic.postprocess.inference import _chain_paddle
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((14, 16, 20)).astype(np.float32)
    hmp = (rng.random((1, 16, 20)) ** 4).astype(np.float32)
    off = (rng.standard_normal((2, 16, 20)) * 3).astype(np.float32)
    args = (THINGS, 1000, 4, IGNORE, 0.1, 3, 6, (13, 17), True)
    want = panoptic_postprocess(logits, hmp, off, thing_list=THINGS, label_divisor=1000,
                                stuff_area=4, ignore_index=IGNORE, threshold=0.1, nms_kernel=3,
                                top_k=6, output_size=(13, 17))
    got = _chain_paddle(paddle.to_tensor(logits), paddle.to_tensor(hmp), paddle.to_tensor(off),
                        *args)
    for key in ("semantic", "instance", "panoptic", "center_heatmap", "centers"):
        np.testing.assert_array_equal(got[key].numpy(), want[key])
    np.testing.assert_allclose(got["semantic_softmax"].numpy(), want["semantic_softmax"],
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kwargs, match", [
    ({"output_size": (7, 4)}, "output_size"),
    ({"offsets": np.zeros((3, 6, 6), np.float32)}, "offsets"),
    ({"center_heatmap": np.zeros((1, 5, 6), np.float32)}, "center_heatmap"),
    ({"semantic_logits": np.zeros((2, 3, 6, 6), np.float32)}, "one image"),
])
def test_chain_bad_input_raises(kwargs, match):
    args = {"semantic_logits": np.zeros((3, 6, 6), np.float32),
            "center_heatmap": np.zeros((1, 6, 6), np.float32),
            "offsets": np.zeros((2, 6, 6), np.float32)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        panoptic_postprocess(**args, thing_list=[1], label_divisor=1000, stuff_area=1,
                             ignore_index=255)


def test_large_instance_ids_are_ranked_in_ascending_order():
    # Ids 7_000_000 and 3_000_000 exceed the direct table; their ranks keep the id order, so
    # 3_000_000 (smaller id) is the first 11 -> 11001 and 7_000_000 -> 11002.
    semantic = np.array([[[11, 11, 0]]])
    instance = np.array([[[7_000_000, 3_000_000, 0]]])
    got = merge_semantic_and_instance(semantic, instance, 1000, [11], 1, 255)
    np.testing.assert_array_equal(got, [[[11002, 11001, 0]]])


def test_chain_argmax_ties_take_the_smallest_class_and_softmax_can_be_skipped():
    logits = np.zeros((4, 3, 3), np.float32)
    logits[2] = 1.0
    logits[1, 0, 0] = 1.0  # (0, 0): classes 1 and 2 tie at the maximum -> class 1
    logits[3, 2, 2] = np.inf  # (2, 2): an infinite logit wins -> class 3
    out = panoptic_postprocess(logits, np.zeros((1, 3, 3), np.float32),
                               np.zeros((2, 3, 3), np.float32), thing_list=[3],
                               label_divisor=1000, stuff_area=1, ignore_index=255, softmax=False)
    np.testing.assert_array_equal(out["semantic"], [[1, 2, 2], [2, 2, 2], [2, 2, 3]])
    assert out["semantic_softmax"] is None and out["centers"] is None
    # class 3 is a thing without instance -> ignore; classes 1 and 2 are stuff, area >= 1.
    np.testing.assert_array_equal(out["panoptic"], [[1, 2, 2], [2, 2, 2], [2, 2, 255]])


@pytest.mark.parametrize("pixel, want", [
    ([0.0] * 6, 0),  # all equal: the first class
    ([1.0, 0.0, 0.0, 0.0, 0.0, 1.0], 0),  # class 0 ties with the last class
    ([2.0, 2.0, 1.0, 0.0, 0.0, 0.0], 0),  # class 0 ties with class 1
    ([-1.0, 3.0, 0.0, 3.0, 0.0, 3.0], 1),  # three-way tie without class 0
    ([-np.inf] * 6, 0),  # all -inf: equal, the first class
    ([-np.inf, -np.inf, -5.0, -np.inf, -5.0, -np.inf], 2),  # -inf never wins against a number
    ([np.inf, 0.0, 0.0, 0.0, 0.0, np.inf], 0),  # +inf ties
])
def test_chain_argmax_ties_match_numpy_and_paddle_argmax(pixel, want):
    # Each pixel's class is the first class holding the maximum logit, as np.argmax and
    # paddle.argmax give; numpy arrays, CPU tensors and paddle.argmax must agree.
    logits = np.broadcast_to(np.array(pixel, np.float32)[:, None, None], (6, 3, 5)).copy()
    kwargs = dict(thing_list=[3], label_divisor=1000, stuff_area=1, ignore_index=255,
                  softmax=False)
    zeros = np.zeros((1, 3, 5), np.float32), np.zeros((2, 3, 5), np.float32)
    out = panoptic_postprocess(logits, *zeros, **kwargs)
    np.testing.assert_array_equal(out["semantic"], np.full((3, 5), want))
    np.testing.assert_array_equal(out["semantic"], logits.argmax(axis=0))
    tensors = panoptic_postprocess(paddle.to_tensor(logits),
                                   *(paddle.to_tensor(z) for z in zeros), **kwargs)
    np.testing.assert_array_equal(tensors["semantic"].numpy(), np.full((3, 5), want))
    np.testing.assert_array_equal(paddle.argmax(paddle.to_tensor(logits), axis=0).numpy(),
                                  np.full((3, 5), want))


def test_majority_counts_pixels_of_both_parities():
    # The histogram counts odd and even pixels separately and adds them: instance 1 has class
    # 12 on flat positions 1, 3 and 4 (odd, odd, even) and 11 on 0 and 2 (both even) -> 12
    # wins 3 to 2 -> 12001. Instance 2 has 11 on odd positions only and 13 on one even one.
    semantic = [[11, 12, 11, 12, 12, 13, 11, 0, 11, 0]]
    instance = [[1, 1, 1, 1, 1, 2, 2, 0, 2, 0]]
    got = merge(semantic, instance, stuff_area=2)
    np.testing.assert_array_equal(got, [[12001] * 5 + [11001, 11001, 0, 11001, 0]])
    # Odd image sizes: the last pixel falls in the even lane.
    rng = np.random.default_rng(5)
    for height, width in ((3, 5), (1, 7), (7, 1)):
        sem = rng.choice([0, 1, 11, 12, 13], size=(1, height, width))
        ins = rng.integers(0, 3, size=(1, height, width))
        np.testing.assert_array_equal(
            merge_semantic_and_instance(sem, ins, 1000, THINGS, 2, IGNORE),
            reference.merge(sem, ins, 1000, THINGS, 2, IGNORE))


@pytest.mark.parametrize("min_mean_run", [1, 1 << 40])
def test_run_and_pixel_histograms_agree(monkeypatch, min_mean_run):
    # The histogram counts runs of equal (instance, class) keys when runs are long on average
    # (min_mean_run 1 forces that path) and single pixels otherwise (1 << 40 forces it); both
    # equal the reference on blocky maps (long runs) and noisy ones.
    from paddleseg_panoptic.postprocess import _limits
    monkeypatch.setattr(_limits, "MIN_MEAN_RUN", min_mean_run)
    rng = np.random.default_rng(7)
    for i in range(20):
        height, width = rng.integers(1, 30, size=2)
        semantic, instance = random_maps(rng, height, width)
        if i % 2:  # blocky: every value repeated over runs of 1 to 9 pixels
            reps = rng.integers(1, 10, size=semantic.size)
            semantic = np.repeat(semantic.reshape(-1), reps)[:semantic.size].reshape(semantic.shape)
            instance = np.repeat(instance.reshape(-1), reps)[:instance.size].reshape(instance.shape)
        if i % 4 == 3:  # ids beyond the direct table: ranked, order kept
            instance = np.where(instance == 5, 5_000_000, instance)
        if i % 4 == 2:  # narrower dtypes
            semantic, instance = semantic.astype(np.uint8), instance.astype(np.int32)
        want = reference.merge(semantic.astype(np.int64), instance.astype(np.int64), 1000,
                               THINGS, 3, IGNORE)
        np.testing.assert_array_equal(
            merge_semantic_and_instance(semantic, instance, 1000, THINGS, 3, IGNORE), want)
    for bad, name in (("semantic", "semantic"), ("instance", "instance")):
        maps = {"semantic": np.full((1, 4, 4), 11), "instance": np.ones((1, 4, 4), np.int64)}
        maps[bad][0, 3, 3] = -2
        with pytest.raises(ValueError, match=f"{name} must hold non-negative ids, found -2"):
            merge_semantic_and_instance(maps["semantic"], maps["instance"], 1000, THINGS, 3,
                                        IGNORE)
