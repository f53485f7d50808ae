"""paddleseg_panoptic.evaluation: semantic, panoptic and instance evaluators (pure numpy)."""
from .instance import InstanceEvaluator, average_precision  # noqa: F401
from .panoptic import PanopticEvaluator  # noqa: F401
from .semantic import SemanticEvaluator  # noqa: F401
