"""Figures from a short real run, checked as PNG files; report.html checked in headless Chromium."""

from __future__ import annotations

import html
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image

SVG = "{http://www.w3.org/2000/svg}"

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


PICTURES = {"init", "predict", "snapshots", "ideal_digits", "weights", "mistakes"}  # PNG, drawn with Pillow
CHARTS = {"loss", "gradcheck", "gradient", "step", "stop"}  # SVG
ALL_FIGURES = PICTURES | CHARTS


def assert_real_picture(path: Path, min_size=(150, 100)):
    assert path.is_file(), path
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_size[0] and image.height >= min_size[1], (path, image.size)
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert pixels.std() > 10, f"{path} looks blank"
    assert len(np.unique(pixels)) > 20, f"{path} has almost no content"
    assert path.stat().st_size < 1_000_000


def assert_real_chart(path: Path):
    """An SVG document with a title, labelled axes and something drawn from data."""
    root = ElementTree.parse(path).getroot()
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert len(texts) >= 6 and all(texts), (path, texts)
    drawn = [e for e in root.iter() if e.tag in (f"{SVG}polyline", f"{SVG}circle")]
    bars = [e for e in root.iter(f"{SVG}rect") if e.get("fill") not in ("white", "none")]
    assert len(drawn) + len(bars) >= 3, path


@pytest.mark.parametrize("kind", ["linear", "mlp", "ten"])
def test_every_figure_is_a_real_picture(runs, kind):
    summaries, cwd = runs
    figures = cwd / summaries[kind]["run_dir"] / "figures"
    assert {p.stem for p in figures.glob("*.png")} == PICTURES
    assert {p.stem for p in figures.glob("*.svg")} == CHARTS
    for path in figures.glob("*.png"):
        assert_real_picture(path)
    for path in figures.glob("*.svg"):
        assert_real_chart(path)


def test_report_command_rebuilds_from_a_saved_run(runs):
    summaries, cwd = runs
    run_dir = cwd / summaries["linear"]["run_dir"]
    (run_dir / "report.html").unlink()
    shutil.rmtree(run_dir / "figures")
    result = subprocess.run([sys.executable, "-m", "sevensteps.cli", "report", str(run_dir)], cwd=cwd,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    page = (run_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(PICTURES)
    assert page.count("data:image/svg+xml;base64,") == len(CHARTS)
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
    assert f"Its size went from {history[0]['grad_norm']:.4f} in epoch 1" in page  # recorded by the Learner


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
    assert_real_chart(run_dir / "figures" / "gradient.svg")
    (run_dir / "snapshots.safetensors").unlink()  # a run from before weight snapshots were kept
    page = build_report(run_dir).read_text()
    figures = {p.stem for p in (run_dir / "figures").iterdir()}
    assert figures == ALL_FIGURES - {"init", "step", "snapshots"}
    assert "1. init" in page and "7. stop" in page
    for epoch in summary["history"]:  # a run from before gradient sizes were recorded
        del epoch["grad_norm"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    page = build_report(run_dir).read_text()
    assert "did not record the gradient" in page
    assert "gradient" not in {p.stem for p in (run_dir / "figures").iterdir()}


def overlaps(boxes) -> bool:
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_matplotlib_gradcheck_ticks_do_not_overlap_and_legends_do_not_cover_lines():
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
        assert len(shown) >= 3 and not any(a.overlaps(b) for i, a in enumerate(shown) for b in shown[i + 1:])
    history = [{"epoch": e, "train_loss": 1 / e, "valid_loss": 1 / e, "valid_accuracy": 0.9 + e / 100}
               for e in range(1, 6)]
    fig = plots.training_curves(history, 0.93)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        assert not ax.get_legend().get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def chart_layout(svg: str):
    """(plot rectangle (x, y, w, h), x tick labels (x, text), legend texts' y) of a report chart."""
    root = ElementTree.fromstring(svg)
    plot = next(r for r in root.iter(f"{SVG}rect") if r.get("fill") == "none")
    box = [float(plot.get(k)) for k in ("x", "y", "width", "height")]
    bottom = box[1] + box[3]
    texts = [(float(t.get("x", 0)), float(t.get("y", 0)), t.text) for t in root.iter(f"{SVG}text")
             if t.get("x") is not None]
    ticks = [(x, text) for x, y, text in texts if abs(y - (bottom + 16)) < 0.5]
    legend = [y for x, y, text in texts if y > bottom + 40]
    return box, ticks, legend


@pytest.mark.parametrize("low, high", [(-0.0172, 0.0003), (0.000012, 0.00009), (-3e-11, 4e-11), (95.29, 97.15),
                                       (0.5, 0.5), (-12345.0, 678.0)])
def test_chart_ticks_are_few_round_and_never_overlap(low, high):
    from sevensteps.charts import Chart

    xs = list(np.linspace(low, high, 50))
    chart = Chart("t", "x", "y", integer_x=False).points(xs, xs, "values", "blue").line(
        [low, high], [low, high], "identity", "red", markers=False)
    _, ticks, _ = chart_layout(chart.svg())
    assert 2 <= len(ticks) <= 6
    labels = [text for _, text in ticks]
    assert len(set(labels)) == len(labels), labels  # neighbours never print the same
    positions = [x for x, _ in ticks]
    widest = 7 * max(len(t) for t in labels)  # 12 px text is under 7 px a character
    assert all(b - a > widest for a, b in itertools.pairwise(positions)), (labels, positions)


def test_chart_legend_sits_below_the_plot_and_its_axis_label():
    from sevensteps.charts import Chart

    chart = (Chart("Validation accuracy per epoch", "epoch", "accuracy (%)")
             .line(range(1, 21), np.linspace(96, 97.2, 20), "trained model", "green")
             .hline(95.3, "pixel similarity (95.3%)", "red").star(18, 97.15, "best (epoch 18)", "orange")
             .vline(20, "stopped after epoch 20", "gray"))
    box, ticks, legend = chart_layout(chart.svg())
    assert len(legend) == 4 and min(legend) > box[1] + box[3] + 40
    assert [text for _, text in ticks] == ["5", "10", "15", "20"]


@pytest.mark.parametrize("model_kind, n_outputs, checked", [("linear", 1, 785), ("mlp", 10, 5 + 10)])
def test_one_gradient_check_serves_any_built_in_model(model_kind, n_outputs, checked):
    """The CLI's gradcheck and the report's share one check of the output layer: every weight of the linear
    model; the first output's row and the biases of the mlp's last layer (its hidden layer held fixed)."""
    import sevensteps as ss
    from sevensteps.gradcheck import gradcheck_output_layer
    from sevensteps.models import mlp

    model = ss.nn.Sequential(ss.nn.Linear(784, 1, generator=ss.Generator(0))) if model_kind == "linear" \
        else mlp(n_outputs, ss.Generator(0), hidden=5)
    rng = np.random.default_rng(0)
    x = ss.tensor(rng.random((8, 784)))
    y = ss.tensor(rng.integers(0, n_outputs, 8) if n_outputs > 1 else rng.integers(0, 2, (8, 1)).astype(float))
    loss = ss.nn.functional.cross_entropy if n_outputs > 1 else ss.nn.functional.binary_cross_entropy_with_logits
    result = gradcheck_output_layer(model, x, lambda scores: loss(scores, y))
    assert result.count == checked
    assert result.max_abs_error < 1e-7 and result.ok()
    # the same numbers by hand: backprop through the whole model in float64, read at the checked weights
    model.double()
    loss(model(x), y).backward()
    head = list(model)[-1]
    np.testing.assert_allclose(result.backprop[0], head.weight.grad.data[:1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.backprop[1], head.bias.grad.data, rtol=1e-10, atol=1e-12)
