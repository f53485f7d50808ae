"""Where and how every benchmark writes its JSON (``benchmarks/results/``, git-ignored)."""
import json
import os

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# The models the training benchmarks build, by --model name (paths relative to the repository).
CONFIGS = {
    "r50": "configs/panoptic_deeplab/"
           "panoptic_deeplab_resnet50_os32_cityscapes_1025x513_bs8_90k_lr00005.yml",
    "toy": "configs/quick_start/panoptic_deeplab_resnet18_os32_toy.yml",
}


def result_path(name):
    """``benchmarks/results/<name>``, whatever the working directory."""
    return os.path.join(RESULTS_DIR, name)


def write_json(path, data, indent=2):
    """Write ``data`` to ``path`` (folders created) and say where."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=indent)
    print("wrote {}".format(path))
