"""Prediction with an exported model, without a config, weights file or training code.

``Predictor(model_dir)(image_bgr)`` gives the same result dict as the dygraph path
(:func:`paddleseg_panoptic.core.predict.predict_image`): the same preprocessing and padding and
the package's post-processing, only the network runs on an inference engine
(:mod:`paddleseg_panoptic.deploy.backends`).
"""
from paddleseg.utils import logger

from paddleseg_panoptic.core import predict as core
from paddleseg_panoptic.cvlibs.builder import build_object
from paddleseg_panoptic.deploy import backends as engines
from paddleseg_panoptic.deploy.info import DEPLOY_FILE, DeployError, read_deploy_info

__all__ = ["Predictor", "AUTO_BACKENDS"]

_POSTPROCESS_KEYS = ("threshold", "nms_kernel", "top_k")


# What backend="auto" tries, fastest first on CPU (docs/benchmarks.md). Paddle Inference with
# TensorRT is never picked by itself: it builds engines for a range of input sizes first.
AUTO_BACKENDS = ("onnxruntime", "paddle")


class Predictor:
    """An exported model (``tools/export.py``) ready to predict images.

    Args:
        model_dir (str): the export folder (with ``deploy.yaml``).
        backend (str): ``auto`` (the first of :data:`AUTO_BACKENDS` that loads, logged),
            or one of ``onnxruntime``, ``paddle``, ``paddle_tensorrt``.
        device (str): ``cpu`` or ``gpu``.
        threads (int | None): CPU threads of the engine; None: the engine's default.
        **postprocess: ``threshold``, ``nms_kernel``, ``top_k`` overriding ``deploy.yaml``.

    Attributes:
        backend (str): the engine in use. ``info`` (DeployInfo), ``facts`` (DatasetFacts),
        ``transforms``, ``postprocess`` (dict), ``align_corners``, ``size_divisor``.

    Raises:
        DeployError: a bad export folder (the message names the file), or no backend loads.
        ValueError: an unknown backend, device or post-processing key.
    """

    def __init__(self, model_dir, backend="auto", device="cpu", threads=None, **postprocess):
        if device not in ("cpu", "gpu"):
            raise ValueError("device must be cpu or gpu, got {!r}".format(device))
        unknown = sorted(set(postprocess) - set(_POSTPROCESS_KEYS))
        if unknown:
            raise ValueError("unknown post-processing settings {}; accepted: {}".format(
                unknown, list(_POSTPROCESS_KEYS)))
        self.info = read_deploy_info(model_dir)
        self.facts = self.info.facts
        self.align_corners = self.info.align_corners
        self.size_divisor = self.info.size_divisor
        self.postprocess = dict(self.info.postprocess, **postprocess)
        built = build_object(self.info.transforms, "preprocess.transforms",
                             "{}/{}".format(self.info.model_dir, DEPLOY_FILE))
        self.transforms = core.prediction_transforms(built)
        self._engine = self._load(backend, device, threads)
        self.backend = self._engine.name

    def _load(self, backend, device, threads):
        if backend != "auto":
            return engines.create_backend(backend, self.info, device, threads)
        reasons = []
        for name in AUTO_BACKENDS:
            try:
                engine = engines.create_backend(name, self.info, device, threads)
            except (DeployError, ImportError, RuntimeError) as e:
                reasons.append("{}: {}".format(name, e))
                continue
            logger.info("Predictor: backend {} on {}{}".format(
                name, device, "" if not reasons else " (not available: {})".format(
                    "; ".join(reasons))))
            return engine
        raise DeployError("no backend could load {}:\n  {}".format(
            self.info.model_dir, "\n  ".join(reasons)))

    def run(self, batch):
        """The network alone: ``batch`` [N, 3, H, W] float32 (prepared, padded) ->
        ``[semantic [N, C, H, W], center [N, 1, H, W], offset [N, 2, H, W]]`` numpy."""
        return self._engine.run(batch)

    def __call__(self, image_bgr):
        """Predict one [H, W, 3] uint8 BGR image; the dict of
        :func:`paddleseg_panoptic.core.predict.predict_image`."""
        return core.predict_image(self, image_bgr, self.transforms, self.facts,
                                  **self.postprocess)
