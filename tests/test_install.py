"""Installation and import environment: the Paddle requirement chosen by setup.py, extras from
requirements-<name>.txt, OpenCV imported before Paddle, the headless-server message and the
accelerator facts of the run record."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import paddle
import pytest

from paddleseg_panoptic import _opencv
from paddleseg_panoptic.core.train_logging import environment_info
from paddleseg_panoptic.utils.device import accelerator_info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = ["paddlepaddle>=2.6", "paddleseg==2.8.0", "numpy>=1.23,<2"]


def load_setup(folder=ROOT):
    """setup.py of ``folder`` as a module (its setup() call runs only as __main__)."""
    spec = importlib.util.spec_from_file_location("setup_under_test",
                                                  os.path.join(folder, "setup.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_distribution(site, name, version):
    """The metadata pip leaves for an installed distribution (no code: only its record)."""
    info = os.path.join(site, "{}-{}.dist-info".format(name.replace("-", "_"), version))
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: {}\nVersion: {}\n".format(name, version))


def run_python(code, **kwargs):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=180, **kwargs)


@pytest.mark.parametrize("choice, accelerator, first", [
    ("", None, "paddlepaddle>=2.6"),                      # requirements.txt as it is
    ("", "paddlepaddle-gpu 2.6.2", "paddleseg==2.8.0"),   # the GPU build is kept
    ("none", None, "paddleseg==2.8.0"),                   # Paddle left to the user
    (" None ", "paddlepaddle-gpu 3.0.0", "paddleseg==2.8.0"),
    ("paddlepaddle-gpu", None, "paddlepaddle-gpu"),
    ("paddlepaddle-gpu==2.6.2", "paddlepaddle-gpu 2.6.2", "paddlepaddle-gpu==2.6.2"),
    ("paddlepaddle==2.6.2", None, "paddlepaddle==2.6.2"),
])
def test_paddle_requirement_follows_paddle_package(choice, accelerator, first):
    requires = load_setup().install_requires(choice, accelerator, REQUIREMENTS)
    assert requires[0] == first
    # Exactly one Paddle at most, and every other line kept in order.
    assert [r for r in requires if r.startswith("paddlepaddle")] in ([], [first])
    assert [r for r in requires if not r.startswith("paddlepaddle")] == REQUIREMENTS[1:]


@pytest.mark.parametrize("choice", ["paddlepaddle", "PaddlePaddle==2.6.2", "paddlepaddle>=3"])
def test_cpu_paddle_over_an_installed_gpu_paddle_is_refused(choice):
    with pytest.raises(SystemExit, match="paddlepaddle-gpu 2.6.2 is installed.*"
                                         "PADDLE_PACKAGE=none"):
        load_setup().install_requires(choice, "paddlepaddle-gpu 2.6.2", REQUIREMENTS)


def test_installed_gpu_paddle_is_found_by_its_distribution(tmp_path):
    setup = load_setup()
    site = str(tmp_path)
    fake_distribution(site, "paddleseg", "2.8.0")
    fake_distribution(site, "paddlepaddle", "3.0.0")
    assert setup.installed_accelerator_paddle([site]) is None
    fake_distribution(site, "paddlepaddle-gpu", "2.6.2")
    assert setup.installed_accelerator_paddle([site]) == "paddlepaddle-gpu 2.6.2"


def test_each_requirements_file_is_an_extra(tmp_path):
    for name in ("setup.py", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    (tmp_path / "requirements-deploy.txt").write_text("# export\nonnxruntime>=1.15  # CPU\n")
    extras = load_setup(str(tmp_path)).extras_require()
    assert extras["deploy"] == ["onnxruntime>=1.15"]
    assert extras["dev"] == load_setup().read_requirements("requirements-dev.txt")
    assert "pytest>=7.0" in extras["dev"]


def test_pip_keeps_an_installed_gpu_paddle(tmp_path):
    """What pip itself asks for, through the build backend in its isolated environment."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=180)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()
    fake_distribution(site, "paddlepaddle-gpu", "2.6.2")
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--dry-run",
         "--no-deps", "--report", str(report), ROOT],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PADDLE_PACKAGE=""))
    assert result.returncode == 0, result.stderr
    requires = json.loads(report.read_text())["install"][0]["metadata"]["requires_dist"]
    assert "paddleseg==2.8.0" in requires
    assert not [r for r in requires if r.startswith("paddlepaddle")]


def test_png_round_trip_when_paddle_is_imported_after_the_package(tmp_path):
    # With Paddle 2.6 this crashed (SIGSEGV in zlib) when cv2 came after paddle.
    path = str(tmp_path / "x.png")
    result = run_python("""
        import numpy as np
        import paddleseg_panoptic
        import paddle
        import cv2
        from PIL import Image
        a = (np.arange(40 * 64 * 3) % 251).astype(np.uint8).reshape(40, 64, 3)
        assert cv2.imwrite({p!r}, a)
        assert (cv2.imread({p!r}) == a).all()
        assert (np.asarray(Image.open({p!r}))[..., ::-1] == a).all()
        print("ok", paddle.__version__)
        """.format(p=path), cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok " + paddle.__version__ in result.stdout


@pytest.mark.parametrize("first", ["import paddle", "import cv2; import paddle"])
def test_paddle_2_imported_before_cv2_is_a_warning(tmp_path, first):
    # Paddle itself imports cv2, so only cv2 imported before paddle is the safe order.
    result = run_python(first + "\nimport paddleseg_panoptic\n", cwd=str(tmp_path))
    warned = "paddle {} was imported before cv2".format(paddle.__version__) in result.stderr
    assert warned == (paddle.__version__.startswith("2.") and first == "import paddle")
    if not warned:  # with the warning, Paddle 2.6 goes on to crash here (SIGSEGV)
        assert result.returncode == 0, result.stderr


def test_missing_system_library_names_the_apt_packages(tmp_path):
    # An OpenCV that fails as opencv-python does on a server without libGL.
    fake = tmp_path / "cv2"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('libGL.so.1: cannot open shared object "
                                      "file: No such file or directory')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = run_python("import paddleseg_panoptic", cwd=str(tmp_path), env=env)
    assert result.returncode == 1
    assert "missing system library libGL.so.1" in result.stderr
    assert "apt-get install -y libgl1 libglib2.0-0" in result.stderr


def test_other_opencv_import_errors_are_left_alone():
    assert _opencv.missing_library_message(ImportError("numpy.core.multiarray failed")) is None
    message = _opencv.missing_library_message(
        ImportError("libgthread-2.0.so.0: cannot open shared object file"))
    assert "libgthread-2.0.so.0" in message and "libglib2.0-0" in message


def test_run_record_has_the_accelerator_facts():
    info = accelerator_info()
    env = environment_info("cpu", 1, 0)
    if not paddle.device.is_compiled_with_cuda():
        assert info == {}
        assert not {"cuda_version", "cudnn_version", "gpus"} & set(env)
        return
    assert info["cuda_version"] == str(paddle.version.cuda())
    assert info["cudnn_version"] == str(paddle.version.cudnn())
    assert len(info["gpus"]) == paddle.device.cuda.device_count()
    assert all(isinstance(name, str) and name for name in info["gpus"])
    assert {k: env[k] for k in info} == info
