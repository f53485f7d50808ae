"""The evaluation loop on a small in-memory dataset: an oracle model gives perfect scores,
a random model gives the same numbers as an explicit loop, errors name the image."""
import numpy as np
import paddle
import pytest

from paddleseg_panoptic.core.evaluate import AP_OVERLAPS, evaluate
from paddleseg_panoptic.evaluation import InstanceEvaluator, PanopticEvaluator, SemanticEvaluator
from paddleseg_panoptic.postprocess.inference import panoptic_postprocess
from evaluation_toys import NUM_CLASSES, THINGS, OracleModel, TinyDataset


def test_oracle_model_scores_perfectly_and_train_mode_is_restored():
    model = OracleModel()
    model.train()
    res = evaluate(model, TinyDataset(), threshold=0.1, nms_kernel=3, top_k=200,
                   print_detail=False)
    assert model.training
    assert res["num_images"] == 4
    assert res["pan_seg"]["All"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": 4}
    assert res["sem_seg"]["mIoU"] == 100.0 and res["sem_seg"]["mACC"] == 100.0
    assert res["ins_seg"]["AP"] == {2: 100.0, 3: 100.0}
    assert res["ins_seg"]["mAP50"] == 100.0


def random_model():
    paddle.seed(1)
    return paddle.nn.Sequential(paddle.nn.Conv2D(3, NUM_CLASSES + 3, 3, padding=1))


class SplitOutputs(paddle.nn.Layer):
    """Splits one convolution's channels into the three outputs."""

    def __init__(self):
        super().__init__()
        self.body = random_model()

    def forward(self, x):
        y = self.body(x)
        return [y[:, :NUM_CLASSES], paddle.nn.functional.sigmoid(y[:, NUM_CLASSES:NUM_CLASSES + 1]),
                y[:, NUM_CLASSES + 1:] * 3.0]


def test_random_model_equals_an_explicit_loop():
    dataset = TinyDataset(count=5)
    for sample in dataset.samples:
        sample["image"] = np.random.default_rng(int(sample["index"])).standard_normal(
            sample["image"].shape).astype(np.float32)
    model = SplitOutputs()
    res = evaluate(model, dataset, threshold=0.05, nms_kernel=3, top_k=50, print_detail=True)
    sem, pan = SemanticEvaluator(NUM_CLASSES), PanopticEvaluator(NUM_CLASSES, THINGS)
    ins = InstanceEvaluator(NUM_CLASSES, AP_OVERLAPS, THINGS)
    model.eval()
    for sample in dataset.samples:
        with paddle.no_grad():
            out = model(paddle.to_tensor(sample["image"][None]))
        p = panoptic_postprocess(out[0][0], out[1][0], out[2][0], thing_list=THINGS,
                                 label_divisor=1000, stuff_area=1, ignore_index=255,
                                 threshold=0.05, nms_kernel=3, top_k=50, output_size=(10, 14))
        p = {k: v.numpy() for k, v in p.items() if k in ("semantic", "semantic_softmax",
                                                            "panoptic")}
        sem.update(p["semantic"], sample["raw_semantic"])
        pan.update(p["panoptic"], sample["raw_panoptic"])
        ins.update(ins.convert_pred_map(p["semantic_softmax"], p["panoptic"]),
                   ins.convert_gt_map(sample["raw_semantic"], sample["raw_instance"]),
                   ignore_mask=sample["raw_semantic"] == 255)
    assert res["sem_seg"] == sem.evaluate()["sem_seg"]
    assert res["pan_seg"] == pan.evaluate()["pan_seg"]
    assert res["ins_seg"] == ins.evaluate()["ins_seg"]
    assert 0.0 < res["sem_seg"]["mIoU"] < 100.0


def test_labels_larger_than_the_prediction_name_the_image():
    dataset = TinyDataset(count=2, label_size=(10, 14), image_size=(8, 16))
    with pytest.raises(ValueError, match="image city_000000_000019: the prediction is 8x16"):
        evaluate(OracleModel(), dataset, print_detail=False)


def test_empty_dataset_is_refused():
    with pytest.raises(ValueError, match="empty"):
        evaluate(OracleModel(), TinyDataset(count=0), print_detail=False)
