"""Running the ``sevensteps`` command as a user does, and checking its one-line errors (shared by the CLI tests)."""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args, cwd, check_ok=True, timeout=300) -> subprocess.CompletedProcess:
    """``python -m sevensteps.cli ARGS`` in ``cwd``; with ``check_ok`` it must succeed."""
    result = subprocess.run([sys.executable, "-m", "sevensteps.cli", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=timeout, env={**os.environ}, check=False)
    if check_ok:
        assert result.returncode == 0, result.stderr
    return result


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit status 2, no traceback, and one stderr line ``sevensteps: error: ...`` holding every fragment."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sevensteps: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
