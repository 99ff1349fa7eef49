"""matplotlib is the ``plots`` extra: without it the main job and its report still run, a notebook falls back to
text, and a figure that needs it says so in one line with the command that installs it."""

from __future__ import annotations

import subprocess
import sys

from cli_helpers import assert_clean_error

# A process in which ``import matplotlib`` fails, as after ``pip install sevensteps`` without the extra.
WITHOUT_MATPLOTLIB = "import sys; sys.modules['matplotlib'] = None; "


def run_without_matplotlib(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_MATPLOTLIB + code], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def cli_without_matplotlib(*args: str, cwd) -> subprocess.CompletedProcess:
    return run_without_matplotlib(f"from sevensteps.cli import main; sys.exit(main({list(args)!r}))", cwd)


def test_the_main_job_and_its_report_need_no_matplotlib(tmp_path):
    result = cli_without_matplotlib("train", "--epochs", "2", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    reports = list(tmp_path.glob("runs/*/report.html"))
    assert len(reports) == 1 and reports[0].stat().st_size > 10_000


def test_a_figure_without_the_plots_extra_says_how_to_get_it(tmp_path):
    result = cli_without_matplotlib("gradcheck", "--plot", str(tmp_path / "g.png"), cwd=tmp_path)
    assert_clean_error(result, "matplotlib", 'pip install "sevensteps[plots]"')
    assert not (tmp_path / "g.png").exists()


def test_a_notebook_without_matplotlib_shows_text(tmp_path):
    code = ("import sevensteps as ss\n"
            "from sevensteps.extras import MissingExtra\n"
            "from sevensteps.digits import digit_learner\n"
            "splits = ss.data.load_splits(log=lambda line: None)\n"
            "base = ss.PixelSimilarity().fit(splits.train)\n"
            "learn = digit_learner(splits, quiet=True)\n"
            "learn.fit(1)\n"
            "print(base._repr_png_(), learn._repr_png_())\n"
            "try:\n"
            "    import sevensteps.plots\n"
            "except MissingExtra as error:\n"
            "    print('MISSING', error)\n")
    result = run_without_matplotlib(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "None None" in result.stdout
    expected = 'MISSING this figure needs matplotlib, which is not installed: pip install "sevensteps[plots]"'
    assert expected in result.stdout


def test_the_lab_and_sweeps_without_their_extras_say_how_to_get_them(tmp_path):
    block = "sys.modules['starlette'] = sys.modules['dask'] = sys.modules['dask.distributed'] = None; "
    for args, expected in ((["lab", "--no-browser"], 'the lab needs Starlette and Uvicorn, which are not installed: '
                                                    'pip install "sevensteps[lab]"'),
                           (["sweep", "--lr", "0.1,1"], 'sweep needs Dask, which is not installed: '
                                                       'pip install "sevensteps[cluster]"')):
        result = run_without_matplotlib(f"{block}from sevensteps.cli import main; sys.exit(main({args!r}))", tmp_path)
        assert_clean_error(result, expected)
