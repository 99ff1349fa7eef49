"""The examples run as a reader would run them, and say what the chapter says."""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_calculus_example_prints_the_chapters_gradients():
    out = run("calculus.py")
    assert "df/dx = 6" in out
    assert "gradient = [6.0, 8.0, 20.0]" in out


def test_quadratic_example_loss_falls():
    out = run("quadratic.py", "--steps", "8")
    losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("step")]
    assert len(losses) == 8
    assert losses[-1] < losses[0] / 2
    assert all(later <= earlier for earlier, later in pairwise(losses))
