"""Install paddleseg_panoptic: `pip install -e .` (CPU Paddle) or see README.md for GPUs."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_requirements(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        lines = (line.split("#", 1)[0].strip() for line in f)
        return [line for line in lines if line]


def install_requires():
    """requirements.txt, with the Paddle build chosen by PADDLE_PACKAGE.

    PADDLE_PACKAGE=paddlepaddle-gpu installs the CUDA build instead of the CPU one;
    PADDLE_PACKAGE=none leaves Paddle to you (e.g. a wheel from PaddlePaddle's own index).
    """
    choice = os.environ.get("PADDLE_PACKAGE", "").strip()
    requirements = read_requirements("requirements.txt")
    if not choice:
        return requirements
    rest = [r for r in requirements if not r.startswith("paddlepaddle")]
    return rest if choice.lower() == "none" else [choice] + rest


setup(
    name="paddleseg_panoptic",
    version="0.1.0",
    description="Panoptic-DeepLab on PaddlePaddle, checkpoint-compatible with PaddleSeg's "
    "contrib/PanopticDeepLab",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.8",
    packages=find_packages(include=["paddleseg_panoptic", "paddleseg_panoptic.*"]),
    install_requires=install_requires(),
    extras_require={"dev": read_requirements("requirements-dev.txt"),
                    # tools/export.py --onnx and the onnxruntime backend (docs/deploy.md)
                    "deploy": read_requirements("requirements-deploy.txt")},
    license="Apache-2.0",
)
