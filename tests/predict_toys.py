"""A random model whose predictions hold stuff and many instances, for prediction tests."""
import numpy as np
import paddle

from paddleseg_panoptic.datasets import meta


def biased_model(cfg):
    """A random model whose outputs hold road, building and many car instances."""
    paddle.seed(0)
    model = cfg.build_model(load_pretrained=False)
    state = model.state_dict()
    bias = np.zeros(meta.NUM_CLASSES, "float32")
    bias[[0, 2, 11, 13]] = 3.0
    state["head.semantic_head.classifier.0.1.bias"].set_value(bias)
    # A flat heatmap of about 0.5: local maxima of the noise become centres.
    state["head.instance_head.classifier.0.1.bias"].set_value(np.array([0.5], "float32"))
    model.eval()
    return model
