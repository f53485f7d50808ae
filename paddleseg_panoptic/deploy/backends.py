"""Engines that run an exported network: ``run(batch)`` -> [semantic, center, offset] numpy.

- ``onnxruntime``: ``model.onnx`` on onnxruntime's CPU provider, or its CUDA provider with
  ``device='gpu'`` (needs the ``onnxruntime-gpu`` package instead of ``onnxruntime``).
- ``paddle``: the Paddle inference model on Paddle Inference (CPU or GPU). On CPU oneDNN stays
  off: with Paddle 3.3 it fails to run this model.
- ``paddle_tensorrt``: Paddle Inference with its TensorRT engine (GPU only, a Paddle build with
  TensorRT), float32, dynamic shapes between :data:`TRT_MIN_SIZE` and the ``trt_max_size``.
"""
import os

import numpy as np

from paddleseg_panoptic.deploy.info import DEPLOY_EXTRA_HINT, DeployError

__all__ = ["BACKENDS", "OnnxRuntimeBackend", "PaddleBackend", "create_backend"]

BACKENDS = ("onnxruntime", "paddle", "paddle_tensorrt")
TRT_MIN_SIZE = 33
TRT_MAX_SIZE = (1025, 2049)


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, info, device="cpu", threads=None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise DeployError("the onnxruntime backend needs onnxruntime: " +
                              DEPLOY_EXTRA_HINT) from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if device == "gpu":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise DeployError("onnxruntime has no CUDAExecutionProvider here (providers: "
                                  "{}); install onnxruntime-gpu for device='gpu'".format(
                                      ort.get_available_providers()))
            providers = ["CUDAExecutionProvider"] + providers
        self.session = ort.InferenceSession(info.path("onnx"), options, providers=providers)
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch):
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, "float32")})


class PaddleBackend:
    name = "paddle"

    def __init__(self, info, device="cpu", threads=None, tensorrt=False,
                 trt_max_size=TRT_MAX_SIZE):
        from paddle import inference

        config = inference.Config(info.path("program"), info.path("params"))
        config.disable_glog_info()
        if device == "gpu":
            config.enable_use_gpu(256, 0)
            if tensorrt:
                self.name = "paddle_tensorrt"
                config.enable_tensorrt_engine(
                    workspace_size=1 << 30, max_batch_size=1, min_subgraph_size=3,
                    precision_mode=inference.PrecisionType.Float32, use_static=False,
                    use_calib_mode=False)
                high, wide = trt_max_size
                config.set_trt_dynamic_shape_info(
                    {info.input_name: [1, 3, TRT_MIN_SIZE, TRT_MIN_SIZE]},
                    {info.input_name: [1, 3, high, wide]},
                    {info.input_name: [1, 3, 513, 1025]})
        else:
            if tensorrt:
                raise DeployError("the paddle_tensorrt backend needs device='gpu'")
            config.disable_gpu()
            if hasattr(config, "disable_mkldnn"):
                config.disable_mkldnn()
            config.set_cpu_math_library_num_threads(int(threads or os.cpu_count() or 1))
        self.predictor = inference.create_predictor(config)
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.outputs = [self.predictor.get_output_handle(n)
                        for n in self.predictor.get_output_names()]

    def run(self, batch):
        batch = np.ascontiguousarray(batch, "float32")
        self.input.reshape(list(batch.shape))
        self.input.copy_from_cpu(batch)
        self.predictor.run()
        return [handle.copy_to_cpu() for handle in self.outputs]


def create_backend(name, info, device="cpu", threads=None):
    """The engine ``name`` (one of :data:`BACKENDS`) for the export described by ``info``."""
    if name == "onnxruntime":
        return OnnxRuntimeBackend(info, device, threads)
    if name == "paddle":
        return PaddleBackend(info, device, threads)
    if name == "paddle_tensorrt":
        return PaddleBackend(info, device, threads, tensorrt=True)
    raise ValueError("backend must be auto or one of {}, got {!r}".format(list(BACKENDS), name))
