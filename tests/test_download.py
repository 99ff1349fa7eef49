"""Downloads against an HTTP server on 127.0.0.1: good files, dead mirrors, corrupt and cut-off transfers."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest

from sevensteps.data import DataError, load_splits
from sevensteps.data import sources as sources_module
from sevensteps.data.download import RemoteFile, fetch


def remote_for(server, name, body, mirrors):
    return RemoteFile(name, len(body), hashlib.md5(body).hexdigest(), tuple(server.url + m for m in mirrors))


def test_good_file_is_downloaded_verified_and_reused(tmp_path, file_server):
    body = b"x" * 100_000
    file_server.routes["/a/f.bin"] = body
    remote = remote_for(file_server, "f.bin", body, ["/a"])
    path = fetch(remote, tmp_path, log=lambda m: None)
    assert path.read_bytes() == body and not (tmp_path / "f.bin.partial").exists()
    fetch(remote, tmp_path, log=lambda m: None)
    assert file_server.requests == ["/a/f.bin"]  # the verified copy was reused


def test_dead_first_mirror_falls_through_to_the_next(tmp_path, file_server):
    body = b"payload"
    file_server.routes["/good/f.bin"] = body
    remote = remote_for(file_server, "f.bin", body, ["/dead", "/good"])
    assert fetch(remote, tmp_path, log=lambda m: None).read_bytes() == body
    assert file_server.requests == ["/dead/f.bin", "/good/f.bin"]


def test_md5_mismatch_is_rejected_and_nothing_is_kept(tmp_path, file_server):
    file_server.routes["/a/f.bin"] = b"tampered"
    remote = RemoteFile("f.bin", 8, hashlib.md5(b"original").hexdigest(), (file_server.url + "/a",))
    with pytest.raises(DataError, match="md5") as error:
        fetch(remote, tmp_path, log=lambda m: None)
    assert "save it as" in str(error.value)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.partial").exists()


def test_interrupted_transfer_is_not_taken_for_a_file(tmp_path, file_server):
    body = b"y" * 50_000
    file_server.routes["/a/f.bin"] = ("truncate", body)
    file_server.routes["/b/f.bin"] = body
    remote = remote_for(file_server, "f.bin", body, ["/a", "/b"])
    assert fetch(remote, tmp_path, log=lambda m: None).read_bytes() == body
    only_cut = remote_for(file_server, "g.bin", body, ["/a"])
    file_server.routes["/a/g.bin"] = ("truncate", body)
    with pytest.raises(DataError, match=r"g\.bin"):
        fetch(only_cut, tmp_path, log=lambda m: None)
    assert not (tmp_path / "g.bin").exists()


def test_corrupt_cached_file_is_fetched_again(tmp_path, file_server):
    body = b"z" * 1000
    file_server.routes["/a/f.bin"] = body
    remote = remote_for(file_server, "f.bin", body, ["/a"])
    (tmp_path / "f.bin").write_bytes(b"z" * 999 + b"!")
    messages = []
    assert fetch(remote, tmp_path, log=messages.append).read_bytes() == body
    assert any("damaged" in m for m in messages)


def test_offline_names_every_url_and_how_to_place_the_file(tmp_path):
    remote = RemoteFile("f.bin", 10, "0" * 32, ("http://127.0.0.1:9", "http://127.0.0.1:9/other"))
    with pytest.raises(DataError) as error:
        fetch(remote, tmp_path, timeout=2, log=lambda m: None)
    message = str(error.value)
    assert "http://127.0.0.1:9/f.bin" in message and "http://127.0.0.1:9/other/f.bin" in message
    assert str(tmp_path / "f.bin") in message and "\n" not in message


def test_mirror_override_from_the_environment(tmp_path, file_server, monkeypatch):
    body = b"abc"
    file_server.routes["/env/f.bin"] = body
    monkeypatch.setenv("SEVENSTEPS_MIRRORS", file_server.url + "/env")
    remote = RemoteFile("f.bin", 3, hashlib.md5(body).hexdigest(), ("http://127.0.0.1:9",))
    assert fetch(remote, tmp_path, log=lambda m: None).read_bytes() == body


def idx_gz(array: np.ndarray) -> bytes:
    import gzip

    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_mnist_source_end_to_end_from_a_local_mirror(tmp_path, file_server, monkeypatch):
    """The `mnist` source downloads its four files, checks them, and reads them."""
    monkeypatch.setenv("SEVENSTEPS_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 255, (30, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_gz(np.arange(30) % 10),
        "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 255, (10, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_gz(np.arange(10)),
    }
    for name, body in files.items():
        file_server.routes[f"/mnist/{name}"] = body
    fake = tuple((n, len(b), hashlib.md5(b).hexdigest()) for n, b in files.items())
    monkeypatch.setattr(sources_module, "MNIST_FILES", fake)
    monkeypatch.setattr(sources_module, "MNIST_MIRRORS", ("http://127.0.0.1:9", file_server.url + "/mnist"))
    splits = load_splits("mnist", digits=None, log=lambda m: None)
    assert len(splits.train) == 30 and len(splits.valid) == 10
    assert (tmp_path / "home" / "mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_mnist_sample_archive_end_to_end(tmp_path, file_server, monkeypatch):
    """The `mnist_sample` source downloads fastai's archive, extracts it safely and reads the PNGs."""
    from PIL import Image

    monkeypatch.setenv("SEVENSTEPS_HOME", str(tmp_path / "home"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split, count in (("train", 6), ("valid", 2)):
            for digit in (3, 7):
                for i in range(count):
                    png = io.BytesIO()
                    Image.fromarray(np.full((28, 28), 30 * digit, np.uint8)).save(png, format="PNG")
                    info = tarfile.TarInfo(f"mnist_sample/{split}/{digit}/{i}.png")
                    info.size = len(png.getvalue())
                    tar.addfile(info, io.BytesIO(png.getvalue()))
    body = buffer.getvalue()
    file_server.routes["/fastai/mnist_sample.tgz"] = body
    monkeypatch.setattr(sources_module, "MNIST_SAMPLE_ARCHIVE",
                        remote_for(file_server, "mnist_sample.tgz", body, ["/fastai"]))
    splits = load_splits("mnist_sample", log=lambda m: None)
    assert splits.train.counts() == {3: 6, 7: 6} and splits.valid.counts() == {3: 2, 7: 2}
