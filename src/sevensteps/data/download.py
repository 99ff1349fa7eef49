"""Downloading data files: mirrors tried in order, each file checked against its known size and md5.

A file is written to ``NAME.partial`` and renamed to ``NAME`` only once verified, so an interrupted
transfer never looks like a finished one. A cached file that fails its check is fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .dataset import DataError

CHUNK = 1 << 16


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


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified(path: Path, remote: RemoteFile) -> bool:
    return path.is_file() and path.stat().st_size == remote.size and md5_of(path) == remote.md5


def _fetch(url: str, partial: Path, remote: RemoteFile, timeout: float) -> None:
    """Stream ``url`` into ``partial``, checking the size and md5; raises OSError or ValueError."""
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
        while chunk := response.read(CHUNK):
            received += len(chunk)
            if received > remote.size:
                raise ValueError(f"more than the expected {remote.size} bytes")
            digest.update(chunk)
            out.write(chunk)
    if received != remote.size:
        raise ValueError(f"transfer ended after {received} of {remote.size} bytes")
    if digest.hexdigest() != remote.md5:
        raise ValueError(f"md5 {digest.hexdigest()} does not match the expected {remote.md5}")


def fetch(remote: RemoteFile, folder: Path, timeout: float = 30.0, log=print) -> Path:
    """The verified local copy of ``remote`` in ``folder``, downloading it if absent or damaged."""
    path = folder / remote.name
    if verified(path, remote):
        return path
    if path.exists():
        log(f"{path} is damaged (size or md5 mismatch); fetching it again")
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    failures = []
    for url in remote.urls():
        log(f"downloading {url}")
        try:
            _fetch(url, partial, remote, timeout)
        except (OSError, ValueError, urllib.error.URLError) as error:
            reason = getattr(error, "reason", None) or error
            failures.append(f"{url} ({reason})")
            with contextlib.suppress(OSError):
                partial.unlink()
            continue
        os.replace(partial, path)
        return path
    raise DataError(
        f"could not download {remote.name}: " + "; ".join(failures)
        + f". To install it by hand, download it from any of these and save it as {path} "
        f"({remote.size} bytes, md5 {remote.md5})"
    )
