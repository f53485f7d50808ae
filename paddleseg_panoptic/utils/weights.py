"""Loading weights into a layer by parameter name, with a report, and resolving `pretrained`.

``load_weights`` is used for the model's and the backbone's ``pretrained`` argument and for
``--model_path`` in the tools. Keys are matched by name; a key whose shape differs is skipped
and reported rather than failing the whole load (e.g. a checkpoint trained with another
``num_classes``), but a file sharing no key at all with the model is refused. With
``strict=True`` (trained weights given to evaluation or prediction) every model tensor must be
in the file with its shape; keys the model lacks only warn.
"""
import dataclasses
import hashlib
import os
from urllib.parse import urlparse

import numpy as np
import paddle
from paddleseg.utils import logger


def nonfinite_keys(state):
    """Names of the floating-point tensors of ``state`` that hold a NaN or an infinity.

    Args:
        state (dict | paddle.nn.Layer): name -> Tensor / ndarray, or a layer (its
            ``state_dict()``: parameters, BatchNorm statistics and other buffers).

    Returns:
        list[str]: in ``state`` order; empty when everything is finite.
    """
    if isinstance(state, paddle.nn.Layer):
        state = state.state_dict()
    tensors, bad = [], set()
    for name, value in state.items():
        if isinstance(value, paddle.Tensor):
            # An empty tensor is finite (and Paddle 2.6 refuses to sum one).
            if paddle.is_floating_point(value) and 0 not in value.shape:
                tensors.append((name, value))
        else:
            array = np.asarray(value)
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                bad.add(name)
    if tensors:
        # A sum is finite only if every element is: one cheap reduction per tensor and one
        # transfer for all of them. A finite tensor whose sum overflows is confirmed exactly.
        sums = paddle.stack([value.sum().astype("float32") for _, value in tensors])
        finite = paddle.isfinite(sums).numpy()
        bad.update(name for (name, value), ok in zip(tensors, finite)
                   if not ok and not bool(paddle.isfinite(value).all()))
    return [name for name in state if name in bad]


def describe_nonfinite(names, total, source):
    """``'k of n tensors of SOURCE are not finite (NaN or inf), e.g. a, b, c (and 4 more)'``."""
    more = " (and {} more)".format(len(names) - 3) if len(names) > 3 else ""
    return "{} of {} tensors of {} are not finite (NaN or inf), e.g. {}{}".format(
        len(names), total, source, ", ".join(names[:3]), more)


class PretrainedWeightsError(RuntimeError):
    """A ``pretrained`` URL could not be fetched."""


class WeightsDownloadError(FileNotFoundError):
    """A ``--model_path`` URL could not be downloaded."""


# Environment variable naming the cache folder of downloaded ``--model_path`` weights.
CACHE_ENV = "PADDLESEG_PANOPTIC_CACHE"


@dataclasses.dataclass
class LoadReport:
    """What ``load_weights`` did.

    Attributes:
        source (str): the file (or ``'<state dict>'``) the weights came from.
        loaded (list[str]): model keys set from the checkpoint.
        missing (list[str]): model keys absent from the checkpoint (left as they were).
        unexpected (list[str]): checkpoint keys the model does not have (ignored).
        mismatched (list[tuple[str, list, list]]): ``(key, checkpoint_shape, model_shape)``
            for keys present in both with different shapes (left as they were).
    """
    source: str
    loaded: list
    missing: list
    unexpected: list
    mismatched: list

    @property
    def complete(self):
        """True when every model key was loaded and nothing was left over."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self):
        """One line per category, naming at most a few keys each."""
        def few(keys):
            keys = [k if isinstance(k, str) else "{} (checkpoint {} vs model {})".format(*k)
                    for k in keys]
            more = " ... (+{} more)".format(len(keys) - 5) if len(keys) > 5 else ""
            return ", ".join(keys[:5]) + more

        total = len(self.loaded) + len(self.missing) + len(self.mismatched)
        lines = ["Loaded {}/{} model tensors from {}".format(len(self.loaded), total,
                                                            self.source)]
        if self.missing:
            lines.append("  missing in checkpoint ({}): {}".format(len(self.missing),
                                                                  few(self.missing)))
        if self.unexpected:
            lines.append("  unexpected in checkpoint ({}): {}".format(len(self.unexpected),
                                                                     few(self.unexpected)))
        if self.mismatched:
            lines.append("  skipped, shape mismatch ({}): {}".format(len(self.mismatched),
                                                                    few(self.mismatched)))
        return "\n".join(lines)

    __str__ = summary


def read_state_dict(path):
    """Read a ``.pdparams`` file (or a directory holding ``model.pdparams``) into a dict.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file is not a Paddle state dict.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.pdparams")
    if not os.path.isfile(path):
        raise FileNotFoundError("Weights file not found: {}".format(path))
    if path.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
        raise ValueError("{} is an archive: extract it and pass the .pdparams file inside "
                         "(usually model.pdparams)".format(path))
    try:
        state = paddle.load(path)
    except Exception as e:  # paddle raises assorted errors for non-pickle input
        raise ValueError("Cannot read weights file {}: {}: {}".format(
            path, type(e).__name__, e)) from None
    if not isinstance(state, dict):
        raise ValueError("Weights file {} holds a {}, not a state dict".format(
            path, type(state).__name__))
    return state


def _shape(value):
    return list(value.shape) if hasattr(value, "shape") else list(np.shape(value))


def compare_state_dict(model, state, source="<state dict>"):
    """Match a state dict against ``model``'s by name and shape, changing nothing.

    Args:
        model (paddle.nn.Layer): the layer the weights are meant for.
        state (dict): name -> Tensor / ndarray.
        source (str): where ``state`` came from, for the report.

    Returns:
        LoadReport: what :func:`load_weights` would load, miss, ignore and skip.
    """
    model_state = model.state_dict()
    loaded, missing, mismatched = [], [], []
    for key, value in model_state.items():
        if key not in state:
            missing.append(key)
        elif _shape(state[key]) != _shape(value):
            mismatched.append((key, _shape(state[key]), _shape(value)))
        else:
            loaded.append(key)
    unexpected = [key for key in state if key not in model_state]
    return LoadReport(source, loaded, missing, unexpected, mismatched)


def load_weights(model, path_or_state_dict, log=True, strict=False):
    """Copy weights into ``model`` by parameter name.

    Args:
        model (paddle.nn.Layer): the layer to fill.
        path_or_state_dict (str | os.PathLike | dict): a ``.pdparams`` file, a directory with
            ``model.pdparams``, or a state dict (name -> Tensor / ndarray).
        log (bool): log the report through paddleseg's logger (a warning unless complete).
        strict (bool): refuse, before changing ``model``, weights that miss a model tensor or
            hold one with another shape (for trained weights: evaluation, prediction).
            Checkpoint keys the model does not have are ignored either way.

    Weights holding NaN or infinity are loaded, with a loud warning naming them.

    Returns:
        LoadReport: loaded, missing, unexpected and shape-mismatched keys.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a state dict, none of its keys matches the model, or
            (``strict``) some model tensor is missing or mismatched (the message lists them).
    """
    if isinstance(path_or_state_dict, dict):
        state, source = path_or_state_dict, "<state dict>"
    else:
        source = os.fspath(path_or_state_dict)
        state = read_state_dict(source)
    report = compare_state_dict(model, state, source)
    model_state = model.state_dict()
    if not report.loaded:
        raise ValueError(
            "Weights file {} matches no parameter of {}: {} checkpoint keys (e.g. {}), {} model "
            "keys (e.g. {}), {} same-name keys with another shape. Is it a checkpoint of this "
            "model?".format(source, type(model).__name__, len(state), list(state)[:3],
                            len(model_state), list(model_state)[:3], len(report.mismatched)))
    if strict and (report.missing or report.mismatched):
        raise ValueError("Weights file {} does not match the model ({}):\n{}".format(
            source, type(model).__name__, report.summary()))
    # Pass every model key (skipped ones with their current value) so Paddle does not warn
    # about each key we deliberately left out.
    new_state = dict(model_state)
    new_state.update((key, state[key]) for key in report.loaded)
    model.set_state_dict(new_state)
    bad = nonfinite_keys({key: state[key] for key in report.loaded})
    if bad:
        logger.warning("!!! {}: every output of this model will be meaningless. These weights "
                       "come from a diverged training run; use an earlier checkpoint. !!!".format(
                           describe_nonfinite(bad, len(report.loaded), source)))
    if log:
        if report.complete:
            logger.info(report.summary())
        else:
            logger.warning(report.summary())
    return report


def resolve_pretrained(pretrained, key="pretrained"):
    """Turn a ``pretrained`` value into a local ``.pdparams`` path.

    Args:
        pretrained (str): a local file / directory, or an ``http(s)`` URL of a ``.pdparams``
            or ``.tar.gz`` (fetched with paddleseg's downloader into its cache).
        key (str): the config key the value came from, used in error messages.

    Raises:
        PretrainedWeightsError: the URL cannot be fetched (e.g. no network).
        FileNotFoundError: the local file does not exist.
    """
    pretrained = os.fspath(pretrained)
    if urlparse(pretrained).scheme in ("http", "https", "ftp"):
        from paddleseg.utils.utils import download_pretrained_model
        try:
            path = download_pretrained_model(pretrained)
        except Exception as e:  # requests / tarfile / OS errors all mean "not available"
            raise PretrainedWeightsError(
                "Could not fetch pretrained weights for `{key}` from {url} ({kind}: {msg}). "
                "Download it on a machine with network access (extract a .tar.gz; the weights "
                "are its model.pdparams) and pass the local file, e.g. "
                "`--opts {key}=/path/to/model.pdparams`, or train from scratch with "
                "`--opts {key}=null`.".format(key=key, url=pretrained, kind=type(e).__name__,
                                              msg=str(e)[:300])) from None
        if not os.path.isfile(path):
            raise PretrainedWeightsError(
                "Fetched {} for `{}` but found no weights file at {}; pass a local .pdparams "
                "with `--opts {}=/path/to/model.pdparams`".format(pretrained, key, path, key))
        return path
    if not os.path.exists(pretrained):
        raise FileNotFoundError(
            "Pretrained weights for `{}` not found: {} (give an existing .pdparams file, an "
            "URL, or null)".format(key, pretrained))
    return pretrained


def load_pretrained(layer, pretrained, key="pretrained"):
    """Load ``pretrained`` (path or URL) into ``layer``; ``None`` does nothing.

    Returns:
        LoadReport or None.
    """
    if pretrained is None:
        return None
    path = resolve_pretrained(pretrained, key)
    logger.info("Loading pretrained weights for `{}` from {}".format(key, path))
    return load_weights(layer, path)


def is_url(path):
    """True for an ``http://`` or ``https://`` address."""
    return isinstance(path, str) and urlparse(path).scheme in ("http", "https")


def weights_cache_dir():
    """The folder downloaded weights are kept in: ``$PADDLESEG_PANOPTIC_CACHE/weights``, by
    default ``~/.cache/paddleseg_panoptic/weights``."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache",
                                                      "paddleseg_panoptic")
    return os.path.join(root, "weights")


def cached_weights_path(url):
    """Where :func:`download_weights` keeps ``url``: a folder per address (a hash of it),
    holding the file under its own name."""
    name = os.path.basename(urlparse(url).path) or "model.pdparams"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return os.path.join(weights_cache_dir(), digest, name)


def download_weights(url, progress=True, timeout=60):
    """Download a weights file once; later calls return the cached copy.

    The file is written under a temporary name, checked to be a Paddle state dict, and only
    then moved to :func:`cached_weights_path`, so an interrupted or wrong download is never
    taken for the weights later.

    Args:
        url (str): ``http(s)`` address of a ``.pdparams`` file.
        progress (bool): show a progress bar (bytes) on stderr.
        timeout (float): seconds to wait for the server (connection and each read).

    Returns:
        str: the local path.

    Raises:
        WeightsDownloadError: the server is unreachable or answers with an error status, the
            download is incomplete, or the file is not a state dict.
    """
    import urllib.request

    from tqdm import tqdm

    path = cached_weights_path(url)
    if os.path.isfile(path):
        logger.info("Using cached weights {} (downloaded from {})".format(path, url))
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    part = "{}.part{}".format(path, os.getpid())
    logger.info("Downloading {} to {}".format(url, path))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            with open(part, "wb") as f, tqdm(total=total, unit="B", unit_scale=True,
                                             desc=os.path.basename(path),
                                             disable=not progress) as bar:
                while True:
                    chunk = response.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                    bar.update(len(chunk))
        size = os.path.getsize(part)
        if total is not None and size != total:
            raise OSError("incomplete download: {} of {} bytes".format(size, total))
        read_state_dict(part)
        os.replace(part, path)
    except (OSError, ValueError) as e:  # URLError and HTTPError are OSErrors
        raise WeightsDownloadError("Could not download weights from {}: {}: {}".format(
            url, type(e).__name__, e)) from None
    finally:
        if os.path.exists(part):
            os.remove(part)
    return path


def resolve_model_path(model_path, progress=True):
    """``--model_path`` as a local path: an ``http(s)`` URL is downloaded once into the cache
    (:func:`download_weights`); anything else is returned as it is."""
    if is_url(model_path):
        return download_weights(model_path, progress=progress)
    return model_path
