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
from sevensteps.files import FileWriteError


def remote_for(server, name, body, mirrors):
    return RemoteFile(name, len(body), hashlib.md5(body).hexdigest(), tuple(server.url + m for m in mirrors))


def test_good_file_is_downloaded_verified_and_reused(tmp_path, file_server):
    body = b"x" * 100_000
    file_server.routes["/a/f.bin"] = body
    remote = remote_for(file_server, "f.bin", body, ["/a"])
    path = fetch(remote, tmp_path, log=lambda m: None)
    assert path.read_bytes() == body and not list(tmp_path.glob("*.partial"))
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
    assert not (tmp_path / "f.bin").exists() and not list(tmp_path.glob("*.partial"))


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


# ---------------------------------------------------------------- hostile mirrors, limits, concurrency


def quiet(message):
    pass


def test_trickling_mirror_is_abandoned_at_the_overall_deadline(tmp_path, file_server):
    """One byte every 0.2 s never trips the per-read timeout; the deadline stops it and the next mirror serves."""
    body = b"t" * 1000
    file_server.routes["/slow/f.bin"] = ("trickle", body, 0.2)
    file_server.routes["/good/f.bin"] = body
    remote = remote_for(file_server, "f.bin", body, ["/slow", "/good"])
    messages = []
    assert fetch(remote, tmp_path, timeout=30, deadline=1.0, log=messages.append).read_bytes() == body
    assert file_server.sent["/slow/f.bin"] < 50  # cut off long before its 1000 bytes (200 s) were sent
    only_slow = remote_for(file_server, "g.bin", body, ["/slow"])
    file_server.routes["/slow/g.bin"] = ("trickle", body, 0.2)
    with pytest.raises(DataError, match=r"longer than the 1 s deadline") as error:
        fetch(only_slow, tmp_path, timeout=30, deadline=1.0, log=quiet)
    assert "\n" not in str(error.value) and not list(tmp_path.glob("*.partial"))


def test_deadline_comes_from_the_environment(tmp_path, file_server, monkeypatch):
    body = b"t" * 1000
    file_server.routes["/slow/f.bin"] = ("trickle", body, 0.2)
    monkeypatch.setenv("SEVENSTEPS_DOWNLOAD_TIMEOUT", "0.5")
    with pytest.raises(DataError, match=r"0\.5 s deadline"):
        fetch(remote_for(file_server, "f.bin", body, ["/slow"]), tmp_path, log=quiet)
    monkeypatch.setenv("SEVENSTEPS_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(DataError, match=r"SEVENSTEPS_DOWNLOAD_TIMEOUT='soon': expected a positive number"):
        fetch(remote_for(file_server, "f.bin", body, ["/slow"]), tmp_path, log=quiet)


def test_stalled_mirror_times_out_and_leaves_nothing(tmp_path, file_server):
    body = b"s" * 10_000
    file_server.routes["/a/f.bin"] = ("stall", body)
    with pytest.raises(DataError, match=r"timed out") as error:
        fetch(remote_for(file_server, "f.bin", body, ["/a"]), tmp_path, timeout=0.5, log=quiet)
    assert "\n" not in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == []


def test_endless_stream_stops_at_the_expected_size(tmp_path, file_server):
    body = b"e" * 5000
    file_server.routes["/a/f.bin"] = ("endless", b"e" * 4096)
    with pytest.raises(DataError, match=r"more than the expected 5000 bytes"):
        fetch(remote_for(file_server, "f.bin", body, ["/a"]), tmp_path, deadline=30, log=quiet)
    assert not (tmp_path / "f.bin").exists()


def test_wrong_content_length_is_refused_before_reading(tmp_path, file_server):
    file_server.routes["/a/f.bin"] = b"x" * 20_000
    remote = RemoteFile("f.bin", 100, hashlib.md5(b"x" * 100).hexdigest(), (file_server.url + "/a",))
    with pytest.raises(DataError, match=r"announces 20000 bytes, expected 100"):
        fetch(remote, tmp_path, log=quiet)


def test_size_cap_refuses_a_file_larger_than_allowed(tmp_path, file_server, monkeypatch):
    body = b"c" * 3000
    file_server.routes["/a/f.bin"] = body
    remote = remote_for(file_server, "f.bin", body, ["/a"])
    with pytest.raises(DataError, match=r"3000 bytes, more than the 1000-byte download limit"):
        fetch(remote, tmp_path, max_bytes=1000, log=quiet)
    monkeypatch.setenv("SEVENSTEPS_DOWNLOAD_MAX_BYTES", "2000")
    with pytest.raises(DataError, match=r"2000-byte download limit"):
        fetch(remote, tmp_path, log=quiet)
    assert file_server.requests == []  # refused before asking any mirror
    monkeypatch.setenv("SEVENSTEPS_DOWNLOAD_MAX_BYTES", "3000")
    assert fetch(remote, tmp_path, log=quiet).read_bytes() == body


def test_corrupt_mirror_then_good_one(tmp_path, file_server):
    body = b"good" * 1000
    file_server.routes["/bad/f.bin"] = b"evil" * 1000
    file_server.routes["/good/f.bin"] = body
    messages = []
    assert fetch(remote_for(file_server, "f.bin", body, ["/bad", "/good"]), tmp_path, log=messages.append
                 ).read_bytes() == body


def test_redirect_loop_is_one_line(tmp_path, file_server):
    file_server.routes["/loop/f.bin"] = ("redirect", "/loop/f.bin")
    remote = RemoteFile("f.bin", 10, "0" * 32, (file_server.url + "/loop",))
    with pytest.raises(DataError, match=r"redirect loop") as error:
        fetch(remote, tmp_path, log=quiet)
    assert "\n" not in str(error.value)


def test_http_error_is_named_in_one_line(tmp_path, file_server):
    remote = RemoteFile("f.bin", 10, "0" * 32, (file_server.url + "/missing",))
    with pytest.raises(DataError, match=r"HTTP 404") as error:
        fetch(remote, tmp_path, log=quiet)
    assert "\n" not in str(error.value)


def test_concurrent_fetches_of_one_file_wait_for_each_other(tmp_path, file_server):
    """Eight threads fetch one file at once: one download, eight intact copies, no stray temporary files."""
    from concurrent.futures import ThreadPoolExecutor

    body = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    file_server.routes["/a/f.bin"] = ("slow", body, 0.3)
    remote = remote_for(file_server, "f.bin", body, ["/a"])
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: fetch(remote, tmp_path, log=quiet), range(8)))
    assert all(p.read_bytes() == body for p in paths)
    assert file_server.requests == ["/a/f.bin"]
    assert not list(tmp_path.glob("*.partial"))


def test_concurrent_fetches_from_separate_processes(tmp_path, file_server):
    """Processes (not only threads) share the lock: three run at once, the file is downloaded once."""
    import subprocess
    import sys
    from pathlib import Path

    import sevensteps

    body = b"p" * 200_000
    file_server.routes["/a/f.bin"] = ("slow", body, 0.3)
    md5 = hashlib.md5(body).hexdigest()
    script = (
        "import sys; from pathlib import Path; from sevensteps.data.download import RemoteFile, fetch; "
        f"r = RemoteFile('f.bin', {len(body)}, '{md5}', ('{file_server.url}/a',)); "
        "p = fetch(r, Path(sys.argv[1]), log=lambda m: None); print(p.stat().st_size)"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(sevensteps.__file__).parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert outputs == [str(len(body))] * 3
    assert file_server.requests == ["/a/f.bin"]


def test_full_disk_while_downloading_names_the_file_and_stops(tmp_path, file_server, monkeypatch):
    """A local write failure is not a mirror's fault: no other mirror is tried, the message names the file."""
    import errno
    import io

    body = b"d" * 200_000
    file_server.routes["/a/f.bin"] = body
    file_server.routes["/b/f.bin"] = body
    real_open = open

    class FullDisk(io.FileIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(file, mode="r", *args, **kwargs):
        if str(file).endswith(".partial") and "w" in mode:
            return FullDisk(file, "w")
        return real_open(file, mode, *args, **kwargs)

    from sevensteps.data import download

    monkeypatch.setattr(download, "open", fake_open, raising=False)
    with pytest.raises(FileWriteError) as error:
        fetch(remote_for(file_server, "f.bin", body, ["/a", "/b"]), tmp_path, log=quiet)
    expected = f"{tmp_path / 'f.bin'}: cannot write it: the disk is full; any previous version is intact"
    assert str(error.value) == expected
    assert file_server.requests == ["/a/f.bin"] and not list(tmp_path.glob("*.partial"))


def test_a_stall_near_the_deadline_ends_at_the_deadline_not_the_read_timeout(tmp_path, file_server):
    """Half the file, then silence: with a 30 s read timeout and a 1 s deadline, the deadline is what ends it."""
    body = b"s" * 10_000
    file_server.routes["/a/f.bin"] = ("stall", body)
    with pytest.raises(DataError, match=r"longer than the 1 s deadline") as error:
        fetch(remote_for(file_server, "f.bin", body, ["/a"]), tmp_path, timeout=30, deadline=1, log=quiet)
    assert "timed out" not in str(error.value)
