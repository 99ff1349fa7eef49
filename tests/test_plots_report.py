"""Figures from a short real run, checked as PNG files; report.html checked in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def train(cwd: Path, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "sevensteps.cli", "train", "--epochs", "3", "--json", *args],
                            cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("runs")
    return {"linear": train(cwd), "mlp": train(cwd, "--model", "mlp"),
            "ten": train(cwd, "--digits", "all", "--lr", "0.5")}, cwd


def assert_real_picture(path: Path, min_size=(300, 200)):
    assert path.is_file(), path
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_size[0] and image.height >= min_size[1], (path, image.size)
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert pixels.std() > 10, f"{path} looks blank"
    assert len(np.unique(pixels)) > 20, f"{path} has almost no content"
    assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("kind, expected", [
    ("linear", {"ideal_digits", "weights", "snapshots", "curves", "confusion", "mistakes", "gradcheck"}),
    ("mlp", {"ideal_digits", "weights", "snapshots", "curves", "confusion", "mistakes"}),
    ("ten", {"ideal_digits", "weights", "snapshots", "curves", "confusion", "mistakes"}),
])
def test_every_figure_is_a_real_picture(runs, kind, expected):
    summaries, cwd = runs
    figures = cwd / summaries[kind]["run_dir"] / "figures"
    assert {p.stem for p in figures.glob("*.png")} == expected
    for path in figures.glob("*.png"):
        assert_real_picture(path)


def test_report_command_rebuilds_from_a_saved_run(runs):
    summaries, cwd = runs
    run_dir = cwd / summaries["linear"]["run_dir"]
    (run_dir / "report.html").unlink()
    shutil.rmtree(run_dir / "figures")
    result = subprocess.run([sys.executable, "-m", "sevensteps.cli", "report", str(run_dir)], cwd=cwd,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    page = (run_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 7
    assert "Pixel similarity" in page and "Stopped because: reached 3 epochs" in page
    bad = subprocess.run([sys.executable, "-m", "sevensteps.cli", "report", str(cwd / "nowhere")], cwd=cwd,
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "no such run folder" in bad.stderr and "Traceback" not in bad.stderr


def test_no_report_option(tmp_path):
    summary = train(tmp_path, "--no-report")
    assert not (tmp_path / summary["run_dir"] / "report.html").exists()


def test_gradcheck_plot(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sevensteps.cli", "gradcheck", "--batch-size", "32", "--plot",
                             str(tmp_path / "g.png")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert_real_picture(tmp_path / "g.png")


def test_notebook_display_hooks():
    from sevensteps.baseline import PixelSimilarity
    from sevensteps.data import load_splits
    from sevensteps.digits import digit_learner

    splits = load_splits("sample")
    baseline = PixelSimilarity()
    assert baseline._repr_png_() is None
    assert baseline.fit(splits.train, splits.classes)._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    learner = digit_learner(splits, quiet=True)
    assert learner._repr_png_() is None
    learner.fit(2)
    assert learner._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_renders_in_headless_chromium(runs, tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    summaries, cwd = runs
    report = (cwd / summaries["mlp"]["run_dir"] / "report.html").resolve()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        loaded = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        headings = page.locator("h2").all_inner_texts()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(loaded) == 6 and all(loaded)
    assert headings[:4] == ["Configuration", "Data", "Baseline vs trained", "History"]
    with Image.open(tmp_path / "report.png") as shot:
        assert shot.height > 2000
        pixels = np.asarray(shot.convert("L"), dtype=np.float32)
    assert pixels.std() > 20 and (pixels < 100).mean() > 0.01  # text and figures, not a white page
