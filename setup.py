"""Requirements of paddleseg_panoptic (the rest of the metadata is in pyproject.toml).

Dependencies come from requirements.txt; each requirements-<name>.txt is the extra <name>
(requirements-dev.txt -> ``pip install ".[dev]"``), so adding an extra is adding a file.

The Paddle build is chosen with the environment variable PADDLE_PACKAGE:
  (unset)                 requirements.txt's CPU ``paddlepaddle`` line, unless an accelerator
                          build (``paddlepaddle-gpu``, ...) is already installed: then Paddle
                          is left as it is, because the CPU wheel would overwrite its files;
  none                    Paddle is left to you (e.g. a wheel from PaddlePaddle's own index);
  paddlepaddle-gpu, paddlepaddle==2.6.2, ...
                          that requirement instead of the CPU line (a CPU ``paddlepaddle``
                          over an installed accelerator build is refused).
The choice is written into the metadata when the package is built: a wheel keeps it.
"""
import glob
import os
import re
import sysconfig
from importlib import metadata

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
CPU_PADDLE = "paddlepaddle"


def read_requirements(name):
    """Requirement lines of the file ``name`` next to this script, without comments."""
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        lines = (line.split("#", 1)[0].strip() for line in f)
        return [line for line in lines if line]


def project_name(requirement):
    """Normalised project name of a requirement string ('Paddle_GPU==2.6' -> 'paddle-gpu')."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def installed_accelerator_paddle(paths=None):
    """'name version' of an installed paddlepaddle-gpu (or other non-CPU build), else None.

    Args:
        paths (list[str], optional): site-packages folders to look in. By default those of
            the interpreter running the build, which is the target environment also under
            pip's build isolation (that only hides it from ``sys.path``).
    """
    if paths is None:
        paths = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
    for dist in metadata.distributions(path=list(paths)):
        name = project_name(dist.metadata["Name"] or "")
        if name.startswith(CPU_PADDLE + "-"):
            return "{} {}".format(name, dist.version)
    return None


def install_requires(choice, accelerator, requirements):
    """``requirements`` with the Paddle line chosen as the module doc says.

    Args:
        choice (str): the value of PADDLE_PACKAGE ('' when unset).
        accelerator (str or None): see :func:`installed_accelerator_paddle`.
        requirements (list[str]): the lines of requirements.txt.
    """
    rest = [r for r in requirements if not project_name(r).startswith(CPU_PADDLE)]
    choice = choice.strip()
    if choice.lower() == "none":
        return rest
    if not choice:
        if accelerator:
            print("paddleseg_panoptic: keeping the installed {} (no CPU paddlepaddle "
                  "requirement)".format(accelerator))
            return rest
        return requirements
    if accelerator and project_name(choice) == CPU_PADDLE:
        raise SystemExit("PADDLE_PACKAGE={}: {} is installed and the CPU paddlepaddle would "
                         "overwrite its files. Use PADDLE_PACKAGE=none to keep it, or "
                         "uninstall it first.".format(choice, accelerator))
    return [choice] + rest


def extras_require():
    """{'dev': requirements-dev.txt, ...}: one extra per requirements-<name>.txt."""
    extras = {}
    for path in sorted(glob.glob(os.path.join(HERE, "requirements-*.txt"))):
        name = os.path.basename(path)[len("requirements-"):-len(".txt")]
        extras[name] = read_requirements(os.path.basename(path))
    return extras


if __name__ == "__main__":  # also how setuptools' build backend runs this file
    setup(install_requires=install_requires(os.environ.get("PADDLE_PACKAGE", ""),
                                            installed_accelerator_paddle(),
                                            read_requirements("requirements.txt")),
          extras_require=extras_require())
