"""Where sevensteps keeps its files, and writing them so that a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# What the file system says, in words a user acts on; anything else keeps the system's own wording.
_WRITE_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk is full (quota exceeded)",
    errno.EFBIG: "the disk is full or a file size limit (ulimit -f) was reached",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "it is a folder; give a file name",
}
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class FileWriteError(OSError):
    """A file could not be written; ``filename`` is the user's path (never a temporary name).

    It is an OSError, so ``except OSError`` still catches it; ``str()`` is one line: ``PATH: what went wrong``.
    """

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def home_dir() -> Path:
    """``$SEVENSTEPS_HOME``, else the user cache folder (``$XDG_CACHE_HOME/sevensteps`` or ~/.cache)."""
    if os.environ.get("SEVENSTEPS_HOME"):
        return Path(os.environ["SEVENSTEPS_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sevensteps"


def display(path: os.PathLike | str | bytes) -> str:
    """A path as text that always prints: bytes that are not UTF-8 (a name from another system) become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def write_error(path: os.PathLike | str, error: OSError) -> FileWriteError:
    """``error`` (from writing ``path`` or its temporary file) restated as one line naming ``path``."""
    if isinstance(error, FileWriteError):
        return error
    problem = _WRITE_PROBLEMS.get(error.errno or 0) or error.strerror or str(error)
    if error.errno in _FULL:
        problem += "; any previous version is intact"
    return FileWriteError(error.errno or 0, f"cannot write it: {problem}", display(path))


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it replaces ``path`` in one rename.

    Until then ``path`` keeps its old content; if the block fails the temporary file is removed. A
    file-system failure (disk full, permission denied...) becomes a :class:`FileWriteError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as error:
        raise write_error(path, error) from error
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes private files; give the usual permissions
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise write_error(path, error) from error
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
