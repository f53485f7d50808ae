"""Deployment: exported models (``tools/export.py``) and a predictor that runs them on
onnxruntime or Paddle Inference. See docs/deploy.md."""
from .info import DeployError, DeployInfo, read_deploy_info  # noqa: F401
from .predictor import Predictor  # noqa: F401
