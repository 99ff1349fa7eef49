"""Figures from a short real run, checked as PNG files; report.html checked in headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
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


STEP_FIGURES = {"init", "predict", "loss", "gradcheck", "step", "snapshots", "stop"}
ALL_FIGURES = STEP_FIGURES | {"ideal_digits", "weights", "mistakes"}


def assert_real_picture(path: Path, min_size=(150, 100)):
    assert path.is_file(), path
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_size[0] and image.height >= min_size[1], (path, image.size)
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert pixels.std() > 10, f"{path} looks blank"
    assert len(np.unique(pixels)) > 20, f"{path} has almost no content"
    assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("kind", ["linear", "mlp", "ten"])
def test_every_figure_is_a_real_picture(runs, kind):
    summaries, cwd = runs
    figures = cwd / summaries[kind]["run_dir"] / "figures"
    assert {p.stem for p in figures.glob("*.png")} == ALL_FIGURES
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
    assert page.count("data:image/png;base64,") == len(ALL_FIGURES)
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
    from sevensteps.learner import Learner, StopRules

    splits = load_splits("sample")
    baseline = PixelSimilarity()
    assert baseline._repr_png_() is None
    assert baseline.fit(splits.train, splits.classes)._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    learner = Learner(splits)
    assert learner._repr_png_() is None
    learner.fit(StopRules(epochs=2))
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
        steps = page.locator("section.step h3").all_inner_texts()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(loaded) == len(ALL_FIGURES) and all(loaded)
    assert headings == ["The seven steps of this run", "Baseline vs trained model", "Mistakes", "History",
                        "Configuration", "Data"]
    assert steps == ["1. init", "2. predict", "3. loss", "4. gradient", "5. step", "6. repeat", "7. stop"]
    with Image.open(tmp_path / "report.png") as shot:
        assert shot.height > 2000
        pixels = np.asarray(shot.convert("L"), dtype=np.float32)
    assert pixels.std() > 20 and (pixels < 100).mean() > 0.01  # text and figures, not a white page


# ---------------------------------------------------------------- the story: captions and numbers fit the run


def figures_of(page: str) -> dict[str, str]:
    """figure id -> its caption, from report.html."""
    found = re.findall(r'<figure id="([a-z_]+)">.*?<figcaption>(.*?)</figcaption></figure>', page, re.S)
    return {name: html.unescape(caption) for name, caption in found}


def test_every_figure_has_a_caption_that_fits_the_run(runs):
    summaries, cwd = runs
    pages = {kind: (cwd / summaries[kind]["run_dir"] / "report.html").read_text() for kind in summaries}
    for kind, page in pages.items():
        captions = figures_of(page)
        assert set(captions) == ALL_FIGURES | {"confusion"}, kind
        assert all(len(c) > 30 for c in captions.values()), kind
    two = figures_of(pages["linear"])
    assert "'3'" in two["weights"] and "'7'" in two["weights"] and "'3'" in two["predict"]
    assert "3 vs 7" in two["confusion"] and "every weight of the model (785 numbers)" in two["gradcheck"]
    ten = figures_of(pages["ten"])
    assert "3 vs 7" not in pages["ten"] and "10 classes" in ten["weights"] and "10 outputs" in ten["predict"]
    assert not any("'3'" in c or "'7'" in c for c in ten.values())
    assert "<h1>sevensteps: 10 classes" in pages["ten"]
    assert "hidden unit" in figures_of(pages["mlp"])["weights"]


def test_hidden_units_are_shown_only_for_the_mlp(runs):
    summaries, cwd = runs
    linear = (cwd / summaries["linear"]["run_dir"] / "report.html").read_text()
    mlp = (cwd / summaries["mlp"]["run_dir"] / "report.html").read_text()
    assert "<td>hidden</td>" not in linear and "<td>hidden</td><td>30</td>" in mlp


def test_the_steps_tell_this_runs_numbers(runs):
    summaries, cwd = runs
    summary = summaries["linear"]
    page = (cwd / summary["run_dir"] / "report.html").read_text()
    history = summary["history"]
    assert f"fell from {history[0]['train_loss']:.4f} (epoch 1) to {history[-1]['train_loss']:.4f}" in page
    assert "1,000 training images in batches of 256: 4 batches per epoch × 3 epochs = 12 steps" in page
    assert "The one that fired: <strong>reached 3 epochs</strong>" in page
    assert "with lr 1 (sgd)" in page and "785 numbers (weights and biases), drawn at random from seed 42" in page
    assert "did not record the gradient" in page  # this Learner records no gradient size per epoch


def test_report_uses_recorded_gradient_sizes_and_rebuilds_old_runs(runs, tmp_path):
    summaries, cwd = runs
    run_dir = tmp_path / "run"
    shutil.copytree(cwd / summaries["linear"]["run_dir"], run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    for k, epoch in enumerate(summary["history"]):
        epoch["grad_norm"] = 0.5 / (k + 1)
    (run_dir / "summary.json").write_text(json.dumps(summary))
    from sevensteps.report import build_report

    page = build_report(run_dir).read_text()
    assert "Its size went from 0.5000 in epoch 1 to 0.1667 in the last epoch" in page
    assert_real_picture(run_dir / "figures" / "gradient.png")
    (run_dir / "snapshots.safetensors").unlink()  # a run from before weight snapshots were kept
    page = build_report(run_dir).read_text()
    assert {p.stem for p in (run_dir / "figures").glob("*.png")} == ALL_FIGURES - {"init", "step", "snapshots"} | {
        "gradient"}
    assert "1. init" in page and "7. stop" in page


def overlaps(boxes) -> bool:
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_gradcheck_ticks_do_not_overlap_and_legends_do_not_cover_lines():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sevensteps import plots

    rng = np.random.default_rng(0)
    numeric = rng.normal(0, 3e-3, 785) - 4e-3
    fig = plots.gradcheck_scatter(numeric, numeric + 1e-11)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        shown = [t.get_window_extent(renderer) for t in labels if t.get_text()]
        assert len(shown) >= 3 and not overlaps(shown)
    history = [{"epoch": e, "train_loss": 1 / e, "valid_loss": 1 / e, "valid_accuracy": 0.9 + e / 100}
               for e in range(1, 6)]
    for fig in (plots.accuracy_curve(history, 0.93, 5, 5), plots.loss_curve(history),
                plots.training_curves(history, 0.93)):
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        for ax in fig.axes:
            legend = ax.get_legend().get_window_extent(renderer)
            assert not legend.overlaps(ax.get_window_extent(renderer))  # below the plot, never on a line


def test_charts_are_drawn_where_no_process_can_be_forked(runs, tmp_path, monkeypatch):
    import multiprocessing

    from sevensteps.report import ChartWorker, build_report

    summaries, cwd = runs
    run_dir = tmp_path / "run"
    shutil.copytree(cwd / summaries["mlp"]["run_dir"], run_dir)
    shutil.rmtree(run_dir / "figures")
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert ChartWorker().process is None
    build_report(run_dir)
    assert {p.stem for p in (run_dir / "figures").glob("*.png")} == ALL_FIGURES


def test_a_worker_that_gets_no_job_ends_cleanly():
    from sevensteps.report import ChartWorker

    worker = ChartWorker()
    worker.finish()
    assert worker.process is None or (not worker.process.is_alive() and worker.process.exitcode == 0)
