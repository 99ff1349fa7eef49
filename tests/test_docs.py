"""The guide's and the README's Python blocks run, in order, in one namespace, so the documentation never rots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = {**{p.name: p for p in DOCS.glob("*.md")}, "README.md": ROOT / "README.md"}


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


def test_the_guide_has_code_for_every_part():
    text = (DOCS / "guide.md").read_text()
    for part in ("Tensors", "Autograd", "The seven steps", "Your own model", "The command line"):
        assert re.search(rf"^## \d\. {part}", text, flags=re.M), part
    assert len(python_blocks(DOCS / "guide.md")) >= 8


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_python_block_runs(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs.{page}"}
    for number, block in enumerate(python_blocks(PAGES[page]), start=1):
        try:
            exec(compile(block, f"{page} block {number}", "exec"), namespace)
        except Exception as error:  # name the block that broke, with the error
            pytest.fail(f"{page}, python block {number} failed: {type(error).__name__}: {error}")
    out = capsys.readouterr().out
    assert "Traceback" not in out
