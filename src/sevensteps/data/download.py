"""Downloading data files: mirrors tried in order, each file checked against its known size and md5.

A transfer goes to a temporary file of its own (``.NAME.XXXX.partial``) and is renamed to ``NAME`` only
once verified, so an interrupted transfer never looks like a finished one. A lock file (``.NAME.lock``)
makes concurrent fetches of one file, from threads or processes, wait for each other: the second finds
the first one's verified copy. A cached file that fails its check is fetched again.

Limits, each a function argument or else an environment variable, else the default:

- ``deadline``, ``$SEVENSTEPS_DOWNLOAD_TIMEOUT``: seconds one transfer (one URL) may take in all,
  default 600. A mirror that trickles a byte now and then is abandoned at the deadline.
- ``timeout``: seconds without a byte before a mirror is abandoned, default 30.
- ``max_bytes``, ``$SEVENSTEPS_DOWNLOAD_MAX_BYTES``: the largest file fetched, default 100,000,000
  bytes; a transfer also stops at the file's known size, so an endless stream ends there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import FileWriteError, write_error
from .dataset import DataError

CHUNK = 1 << 16
DEFAULT_DEADLINE = 600.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 100_000_000


@dataclass(frozen=True)
class RemoteFile:
    """A file known by name, size and md5, available under any of ``mirrors`` (base URLs)."""

    name: str
    size: int
    md5: str
    mirrors: tuple[str, ...]

    def urls(self) -> list[str]:
        """Mirrors from ``$SEVENSTEPS_MIRRORS`` (comma-separated base URLs) first, then the built-in ones."""
        extra = [m for m in os.environ.get("SEVENSTEPS_MIRRORS", "").split(",") if m.strip()]
        return [m.strip().rstrip("/") + "/" + self.name for m in (*extra, *self.mirrors)]


class TransferFailed(Exception):
    """One URL did not deliver the file; the message says why in one line, and the next mirror is tried."""


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified(path: Path, remote: RemoteFile) -> bool:
    return path.is_file() and path.stat().st_size == remote.size and md5_of(path) == remote.md5


def limit_from_env(name: str, default: float) -> float:
    """A positive number from the environment variable ``name``, else ``default``; nonsense is a DataError."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise DataError(f"${name}={text!r}: expected a positive number")
    return value


def _one_line(error: BaseException) -> str:
    """Why a URL failed, in one line: urllib's redirect-loop and HTTP errors span several."""
    if isinstance(error, urllib.error.HTTPError):
        if 300 <= error.code < 400:
            return f"redirect loop or more than {urllib.request.HTTPRedirectHandler.max_redirections} redirects"
        return f"HTTP {error.code} {' '.join(str(error.reason).split())}"
    if isinstance(error, TimeoutError):
        return "timed out waiting for data"
    reason = getattr(error, "reason", None) or error
    return " ".join(str(reason).split()) or type(error).__name__


def _socket_of(response: Any) -> Any:
    """The socket under an http.client response (None where it is hidden), so its timeout can shrink."""
    return getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)


def _fetch(url: str, partial: Path, remote: RemoteFile, timeout: float, deadline: float) -> None:
    """Stream ``url`` into ``partial`` within ``deadline`` seconds, checking size and md5.

    Raises TransferFailed for anything the mirror did wrong, FileWriteError when ``partial`` cannot be written.
    """
    give_up_at = time.monotonic() + deadline
    too_slow = f"took longer than the {deadline:g} s deadline ($SEVENSTEPS_DOWNLOAD_TIMEOUT)"

    def time_left() -> float:
        left = give_up_at - time.monotonic()
        if left <= 0:
            raise TransferFailed(too_slow)
        return left

    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=min(timeout, time_left())) as response:
            announced = response.headers.get("Content-Length")
            if announced and announced.isdigit() and int(announced) != remote.size:
                raise TransferFailed(f"the server announces {announced} bytes, expected {remote.size}")
            sock = _socket_of(response)
            with open(partial, "wb") as out:
                while True:
                    if sock is not None:
                        sock.settimeout(min(timeout, time_left()))  # no single read may outlast the deadline
                    chunk = response.read1(CHUNK)
                    time_left()
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > remote.size:
                        raise TransferFailed(f"more than the expected {remote.size} bytes")
                    digest.update(chunk)
                    try:
                        out.write(chunk)
                    except OSError as error:
                        raise write_error(partial.with_name(remote.name), error) from error
    except (TransferFailed, FileWriteError):
        raise
    except OSError as error:  # URLError, HTTPError, timeouts and resets are all OSErrors
        if isinstance(error, TimeoutError) and time.monotonic() >= give_up_at:
            raise TransferFailed(too_slow) from error
        raise TransferFailed(_one_line(error)) from error
    except ValueError as error:  # a malformed URL or response
        raise TransferFailed(_one_line(error)) from error
    if received != remote.size:
        raise TransferFailed(f"transfer ended after {received} of {remote.size} bytes")
    if digest.hexdigest() != remote.md5:
        raise TransferFailed(f"md5 {digest.hexdigest()} does not match the expected {remote.md5}")


def fetch(remote: RemoteFile, folder: Path, timeout: float = DEFAULT_READ_TIMEOUT,
          log: Callable[[str], None] = print, *, deadline: float | None = None,
          max_bytes: int | None = None) -> Path:
    """The verified local copy of ``remote`` in ``folder``, downloading it if absent or damaged.

    ``timeout``: seconds without data; ``deadline``: seconds for one whole transfer; ``max_bytes``: the
    largest file accepted (see the module's docstring for the defaults and environment variables).
    """
    from filelock import FileLock, Timeout

    deadline = deadline if deadline is not None else limit_from_env("SEVENSTEPS_DOWNLOAD_TIMEOUT", DEFAULT_DEADLINE)
    if max_bytes is None:
        max_bytes = int(limit_from_env("SEVENSTEPS_DOWNLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))
    for name, value in (("timeout", timeout), ("deadline", deadline), ("max_bytes", max_bytes)):
        if not 0 < value < float("inf"):
            raise ValueError(f"fetch: {name} must be a positive number, not {value!r}")
    path = Path(folder) / remote.name
    if remote.size > max_bytes:
        raise DataError(f"{remote.name} is {remote.size} bytes, more than the {max_bytes}-byte download limit "
                        f"($SEVENSTEPS_DOWNLOAD_MAX_BYTES)")
    if verified(path, remote):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path.with_name(f".{remote.name}.lock"))
        lock.acquire(timeout=deadline * (len(remote.urls()) + 1))  # the holder gives up well before this
    except Timeout as error:
        raise DataError(f"{path}: another process has been downloading it for too long "
                        f"(lock {error.lock_file}); try again later") from error
    except OSError as error:
        raise write_error(path, error) from error
    try:
        if verified(path, remote):  # fetched by whoever held the lock before us
            return path
        if path.exists():
            log(f"{path} is damaged (size or md5 mismatch); fetching it again")
        return _fetch_from_mirrors(remote, path, timeout, deadline, log)
    finally:
        lock.release()


def _fetch_from_mirrors(remote: RemoteFile, path: Path, timeout: float, deadline: float,
                        log: Callable[[str], None]) -> Path:
    failures = []
    for url in remote.urls():
        log(f"downloading {url}")
        try:
            fd, name = tempfile.mkstemp(prefix=f".{remote.name}.", suffix=".partial", dir=path.parent)
            os.close(fd)
        except OSError as error:
            raise write_error(path, error) from error
        partial = Path(name)
        try:
            _fetch(url, partial, remote, timeout, deadline)
            os.replace(partial, path)
            return path
        except TransferFailed as error:
            failures.append(f"{url} ({error})")
        except OSError as error:
            raise write_error(path, error) from error
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()
    raise DataError(
        f"could not download {remote.name}: " + "; ".join(failures)
        + f". To install it by hand, download it from any of these and save it as {path} "
        f"({remote.size} bytes, md5 {remote.md5})"
    )
