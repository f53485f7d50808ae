"""Evaluation loop: model -> post-processing -> evaluators over a validation dataset.

Under ``python -m paddle.distributed.launch`` the images are split over the processes
(image i goes to rank i % world_size), every process evaluates its share, and the evaluator
states are gathered and merged in rank order on every process, so all of them return the
numbers a single process gives.
"""
import time

import numpy as np
import paddle
from paddleseg.utils import logger

from paddleseg_panoptic.datasets.facts import DatasetFacts
from paddleseg_panoptic.core.tta import TTA, network_outputs
from paddleseg_panoptic.evaluation.instance import InstanceEvaluator
from paddleseg_panoptic.evaluation.panoptic import PanopticEvaluator
from paddleseg_panoptic.evaluation.report import summary_line, tables
from paddleseg_panoptic.evaluation.semantic import SemanticEvaluator
from paddleseg_panoptic.postprocess.defaults import NMS_KERNEL, THRESHOLD, TOP_K
from paddleseg_panoptic.postprocess.inference import panoptic_postprocess
from paddleseg_panoptic.utils.arrays import to_numpy
from paddleseg_panoptic.utils.device import set_device
from paddleseg_panoptic.utils.distributed import (describe_failures, failures_of_all_ranks,
                                                  get_rank, init_distributed)
from paddleseg_panoptic.utils.paths import check_output_dir
from paddleseg_panoptic.utils.sample_guard import (CatchSampleErrors, SampleError, collate,
                                                   sample_failure)
from paddleseg_panoptic.utils.panoptic_ids import DEFAULT_INSTANCE_SCORE
from paddleseg_panoptic.utils.weights import load_weights, resolve_model_path

# IoU thresholds of AP (these exact float values); AP50 is the first of them.
AP_OVERLAPS = np.arange(0.5, 1.0, 0.05)


def image_name(dataset, index):
    """The dataset's ``image_id`` of sample ``index`` (or ``'index N'``), for messages."""
    records = getattr(dataset, "records", None)
    try:
        return str(records[index]["image_id"])
    except (TypeError, KeyError, IndexError):
        return "index {}".format(index)


class Evaluators:
    """The three evaluators of one run, updated together and merged together.

    Args:
        facts (DatasetFacts): the validation dataset's classes.
        instance_score (str): how predicted instances are scored for AP (see
            :func:`paddleseg_panoptic.utils.panoptic_ids.instance_scores`).
    """

    def __init__(self, facts, instance_score=DEFAULT_INSTANCE_SCORE):
        self.ignore_index = facts.ignore_index
        self.semantic = SemanticEvaluator(facts.num_classes, facts.ignore_index)
        self.panoptic = PanopticEvaluator(facts.num_classes, facts.thing_list,
                                          facts.ignore_index, facts.label_divisor)
        self.instance = InstanceEvaluator(facts.num_classes, AP_OVERLAPS, facts.thing_list,
                                          facts.label_divisor, instance_score)
        self.num_images = 0

    def update(self, prediction, raw_semantic, raw_instance, raw_panoptic):
        """Add one image.

        Args:
            prediction (dict): numpy ``semantic`` [H, W], ``semantic_softmax`` [C, H, W],
                ``panoptic`` [H, W] and, for centre-based instance scores,
                ``center_heatmap`` [H, W] (from ``panoptic_postprocess``).
            raw_semantic, raw_instance, raw_panoptic (np.ndarray): [H, W] labels.

        Returns:
            dict[int, float]: score of every predicted instance, by panoptic id.
        """
        self.semantic.update(prediction["semantic"], raw_semantic)
        self.panoptic.update(prediction["panoptic"], raw_panoptic)
        scores = self.instance.update_maps(
            prediction["semantic_softmax"], prediction["panoptic"], raw_semantic, raw_instance,
            ignore_mask=raw_semantic == self.ignore_index,
            center_heatmap=prediction.get("center_heatmap"))
        self.num_images += 1
        return scores

    def merge(self, other):
        self.semantic.merge(other.semantic)
        self.panoptic.merge(other.panoptic)
        self.instance.merge(other.instance)
        self.num_images += other.num_images
        return self

    def results(self):
        """``{'sem_seg', 'pan_seg', 'ins_seg', 'num_images'}`` (see each evaluator for units)."""
        out = {}
        out.update(self.semantic.evaluate())
        out.update(self.panoptic.evaluate())
        out.update(self.instance.evaluate())
        out["num_images"] = self.num_images
        return out


def _predict_one(model, image, raw_shape, name, facts, threshold, nms_kernel, top_k, tta=None):
    semantic, center, offset, probabilities = network_outputs(model, image, tta)
    out_h, out_w = (int(s) for s in semantic.shape[2:])
    if raw_shape[0] > out_h or raw_shape[1] > out_w:
        raise ValueError("image {}: the prediction is {}x{} (HxW) but its labels are {}x{}; the "
                         "validation transforms must keep the image at least as large as the "
                         "labels (padding at the bottom/right only)".format(
                             name, out_h, out_w, raw_shape[0], raw_shape[1]))
    result = panoptic_postprocess(
        semantic[0], center[0], offset[0], thing_list=list(facts.thing_list),
        label_divisor=facts.label_divisor, stuff_area=facts.stuff_area,
        ignore_index=facts.ignore_index, threshold=threshold, nms_kernel=nms_kernel,
        top_k=top_k, output_size=raw_shape, probabilities=probabilities)
    return {key: to_numpy(result[key])
            for key in ("semantic", "semantic_softmax", "panoptic", "center_heatmap")}


def evaluate(model, dataset, *, threshold=THRESHOLD, nms_kernel=NMS_KERNEL, top_k=TOP_K,
             num_workers=0, print_detail=True, official_writer=None, tta=None,
             instance_score=DEFAULT_INSTANCE_SCORE):
    """Evaluate ``model`` on a validation dataset: PQ / SQ / RQ, mIoU and AP / AP50.

    The model runs in eval mode without gradients (its previous mode is restored), one image at
    a time; each output goes through ``panoptic_postprocess`` on the full padded output and is
    cropped to the size of the image's raw labels.

    Args:
        model (paddle.nn.Layer): returns ``[semantic, center, offset]`` for ``[1, 3, H, W]``.
        dataset: validation dataset whose samples are dicts with ``image`` [3, Hp, Wp],
            ``raw_semantic``, ``raw_instance``, ``raw_panoptic`` [H, W] (H <= Hp, W <= Wp).
        threshold (float), nms_kernel (int), top_k (int | None): centre finding.
        num_workers (int): DataLoader worker processes.
        print_detail (bool): progress bar, summary line and tables (on rank 0).
        official_writer (OfficialWriter | None): each prediction is also added to it, and
            rank 0 runs the official evaluators at the end (``results['official']``).
        tta (TTA | None): test-time augmentation (see :mod:`paddleseg_panoptic.core.tta`);
            None: none.
        instance_score (str): how predicted instances are scored for AP (and the official
            instance files): ``semantic``, ``center`` or ``semantic_x_center``.

    Returns:
        dict: ``sem_seg`` (percent), ``pan_seg`` (fractions), ``ins_seg`` (percent),
        ``num_images``, ``seconds``, the settings ``instance_score`` and ``tta``
        (``{'scales', 'flip_horizontal'}``) and, with ``official_writer``, ``official``
        (rank 0).

    Raises:
        ValueError: an empty dataset, or a prediction smaller than its labels (naming the
            image).
        SampleError: a sample cannot be read (raised on every process, naming the file).
    """
    if len(dataset) == 0:
        raise ValueError("the validation dataset is empty")
    facts = DatasetFacts.from_dataset(dataset)
    world, rank = init_distributed(), get_rank()
    indices = list(range(rank, len(dataset), world))
    guarded = CatchSampleErrors(dataset)
    subset = guarded if world == 1 else paddle.io.Subset(guarded, indices)
    loader = paddle.io.DataLoader(subset, batch_size=1, shuffle=False, drop_last=False,
                                  num_workers=num_workers, return_list=True, collate_fn=collate)
    # Every process takes part in each step's check, also past the end of its own share.
    steps = -(-len(dataset) // world)
    evaluators = Evaluators(facts, instance_score)
    tta = tta or TTA()
    was_training = model.training
    model.eval()
    start = time.time()
    progress = None
    if print_detail and rank == 0:
        from tqdm import tqdm
        progress = tqdm(total=len(indices), desc="eval (rank 0 of {})".format(world)
                        if world > 1 else "eval", unit="img")
    try:
        with paddle.no_grad():
            batches = iter(loader)
            for position in range(steps):
                batch = next(batches) if position < len(indices) else None
                failures = failures_of_all_ranks(None if batch is None else
                                                 sample_failure(batch))
                if failures:
                    raise SampleError(describe_failures(failures))
                if batch is None:
                    continue
                index = indices[position]
                name = image_name(dataset, index)
                raw_semantic = to_numpy(batch["raw_semantic"])[0]
                raw_instance = to_numpy(batch["raw_instance"])[0]
                raw_panoptic = to_numpy(batch["raw_panoptic"])[0]
                if not raw_semantic.shape == raw_instance.shape == raw_panoptic.shape:
                    raise ValueError("image {}: raw labels differ in size: semantic {}, "
                                     "instance {}, panoptic {}".format(
                                         name, raw_semantic.shape, raw_instance.shape,
                                         raw_panoptic.shape))
                prediction = _predict_one(model, batch["image"], raw_semantic.shape, name,
                                          facts, threshold, nms_kernel, top_k, tta)
                scores = evaluators.update(prediction, raw_semantic, raw_instance,
                                           raw_panoptic)
                if official_writer is not None:
                    official_writer.add(name, prediction["panoptic"], prediction["semantic"],
                                        scores)
                if progress is not None:
                    progress.update(1)
    finally:
        if progress is not None:
            progress.close()
        if was_training:
            model.train()

    if world > 1:
        gathered = []
        paddle.distributed.all_gather_object(gathered, evaluators)
        evaluators = gathered[0]
        for other in gathered[1:]:      # rank order: the same sums on every process
            evaluators.merge(other)
    results = evaluators.results()
    results["seconds"] = time.time() - start
    results["instance_score"] = instance_score
    results["tta"] = tta.describe()
    if official_writer is not None and rank == 0:
        all_ids = [image_name(dataset, i) for i in range(len(dataset))]
        results["official"] = official_writer.run(image_ids=all_ids)
    if print_detail and rank == 0:
        logger.info("[EVAL] #Images: {}, {}".format(results["num_images"],
                                                    summary_line(results)))
        logger.info("[EVAL] in percent:\n" + tables(results, facts.class_names))
    return results


def load_model(cfg, model_path):
    """Build the config's model; with ``model_path``, without its ``pretrained`` weights (no
    download) and then filled from ``model_path`` (a file, a folder or an http(s) URL,
    downloaded once to the cache), every parameter required.

    Raises:
        FileNotFoundError: ``model_path`` does not exist.
        ValueError: the file is no state dict, or it lacks parameters of the model or holds
            them with other shapes.
    """
    if model_path is None:
        logger.warning("No model path given: evaluating the config's initial / pretrained "
                       "weights.")
        return cfg.build_model(load_pretrained=True)
    model = cfg.build_model(load_pretrained=False)
    load_weights(model, resolve_model_path(model_path), strict=True)
    return model


def run_evaluation(config, model_path=None, *, threshold=THRESHOLD, nms_kernel=NMS_KERNEL,
                   top_k=TOP_K, num_workers=0, device="auto", opts=None, official_dir=None,
                   aug_eval=False, scales=None, flip_horizontal=None,
                   instance_score=DEFAULT_INSTANCE_SCORE):
    """What ``tools/val.py`` does: build, load, evaluate the config's validation dataset.

    Args:
        config (str): YAML config path.
        model_path (str | None): weights (.pdparams or a folder with model.pdparams).
        official_dir (str | None): also write the predictions for, and run, cityscapesScripts'
            evaluators there (``results['official']``): panoptic, instance and pixel on
            Cityscapes, panoptic on any other COCO-panoptic-format dataset.
        aug_eval (bool), scales (list[float] | None), flip_horizontal (bool | None):
            test-time augmentation, merged with the config's ``test_config`` by
            :meth:`TTA.resolve`.
        Others: see :func:`evaluate`; ``opts`` are ``key=value`` config overrides.

    Returns:
        dict: the results of :func:`evaluate`.
    """
    from paddleseg_panoptic.cvlibs.config import Config

    set_device(device)
    cfg = Config(config, opts=opts)
    if cfg.val_dataset_class is None:
        raise ValueError("{} has no val_dataset".format(cfg.path))
    if official_dir is not None:
        check_output_dir(official_dir, "--official")
    dataset = cfg.val_dataset   # first: data errors before any weights are read
    tta = TTA.resolve(cfg.dic.get("test_config"), aug_eval, scales, flip_horizontal,
                      enable_key="aug_eval", source=cfg.path)
    model = load_model(cfg, model_path)
    writer = None
    if official_dir is not None:
        make_writer = getattr(dataset, "official_writer", None)
        if make_writer is None:
            raise ValueError("--official needs a dataset that writes predictions for the "
                             "official evaluators (PanopticDataset, CityscapesPanoptic), got "
                             "{}".format(type(dataset).__name__))
        writer = make_writer(official_dir)
    return evaluate(model, dataset, threshold=threshold, nms_kernel=nms_kernel, top_k=top_k,
                    num_workers=num_workers, print_detail=True, official_writer=writer, tta=tta,
                    instance_score=instance_score)
