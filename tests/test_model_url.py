"""--model_path as an http(s) URL: downloaded once into the cache, served by a local http
server on 127.0.0.1; failed or wrong downloads leave nothing in the cache."""
import contextlib
import functools
import http.server
import os
import threading

import numpy as np
import paddle
import pytest

from paddleseg_panoptic.utils import weights as W


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):   # keep the test output quiet
        pass


@contextlib.contextmanager
def serve(folder):
    """An http server on 127.0.0.1 (free port) serving ``folder``; yields (base URL, list of
    requested paths)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:{}".format(server.server_address[1]), server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    (folder / "run1").mkdir(parents=True)
    paddle.save({"w": paddle.to_tensor(np.arange(6, dtype="float32"))},
                str(folder / "run1" / "model.pdparams"))
    (folder / "page.pdparams").write_text("<html>not weights</html>")
    monkeypatch.setenv(W.CACHE_ENV, str(tmp_path / "cache"))
    for name in ("no_proxy", "NO_PROXY"):    # never through a proxy to our own server
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    with serve(folder) as (base, requests):
        yield base, requests, tmp_path / "cache"


def _cached_files(cache):
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())


def test_downloaded_once_then_cached(site):
    base, requests, cache = site
    url = base + "/run1/model.pdparams"
    path = W.resolve_model_path(url, progress=False)
    assert path == W.cached_weights_path(url)
    assert path.startswith(str(cache)) and os.path.basename(path) == "model.pdparams"
    assert np.array_equal(paddle.load(path)["w"].numpy(), np.arange(6))
    assert requests == ["/run1/model.pdparams"]
    assert W.resolve_model_path(url, progress=False) == path
    assert requests == ["/run1/model.pdparams"]          # no second request
    assert len(_cached_files(cache)) == 1                # no temporary file left


def test_local_paths_pass_through(tmp_path):
    assert W.resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert not W.is_url("ftp://host/model.pdparams") and W.is_url("https://h/m.pdparams")


def test_missing_file_and_non_weights_are_clear_errors_and_not_cached(site):
    base, requests, cache = site
    with pytest.raises(W.WeightsDownloadError, match=r"/nothing/model.pdparams: HTTPError.*404"):
        W.download_weights(base + "/nothing/model.pdparams", progress=False)
    with pytest.raises(W.WeightsDownloadError, match="page.pdparams: ValueError"):
        W.download_weights(base + "/page.pdparams", progress=False)
    assert _cached_files(cache) == []
    # a server that is gone
    with serve(cache.parent) as (gone, _):
        pass
    with pytest.raises(W.WeightsDownloadError, match="URLError"):
        W.download_weights(gone + "/run1/model.pdparams", progress=False, timeout=5)


def test_export_downloads_url_weights_before_checking_them(site, tmp_path):
    from paddleseg_panoptic.deploy.export import export_model
    base, requests, cache = site
    config = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                          "quick_start", "panoptic_deeplab_resnet18_os32_toy.yml")
    # The served file holds one tensor 'w': downloaded, then refused by the strict load.
    with pytest.raises(ValueError, match="matches no parameter of PanopticDeepLab") as error:
        export_model(config, base + "/run1/model.pdparams", str(tmp_path / "out"))
    assert str(cache) in str(error.value)                # the downloaded copy was loaded
    assert requests == ["/run1/model.pdparams"]
    assert len(_cached_files(cache)) == 1
    assert not (tmp_path / "out").exists()
