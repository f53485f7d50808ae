"""Install paddleseg_panoptic: `pip install -e .` (CPU Paddle) or see README.md for GPUs."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_requirements(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        lines = (line.split("#", 1)[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name="paddleseg_panoptic",
    version="0.1.0",
    description="Panoptic-DeepLab on PaddlePaddle, checkpoint-compatible with PaddleSeg's "
    "contrib/PanopticDeepLab",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.8",
    packages=find_packages(include=["paddleseg_panoptic", "paddleseg_panoptic.*"]),
    install_requires=read_requirements("requirements.txt"),
    extras_require={"dev": read_requirements("requirements-dev.txt")},
    license="Apache-2.0",
)
