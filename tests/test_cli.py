"""The `sevensteps` command end to end, as a user runs it: every command and every error path."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_clean_error, run
from PIL import Image

from sevensteps.data import load_splits


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short real training run, shared by the tests that need a model."""
    cwd = tmp_path_factory.mktemp("trained")
    result = run("train", "--epochs", "3", "--json", cwd=cwd)
    return cwd, json.loads(result.stdout)


def test_train_prints_baseline_table_and_summary(tmp_path):
    out = run("train", "--epochs", "3", cwd=tmp_path).stdout
    assert "Baseline (pixel similarity" in out
    assert "epoch  train_loss  valid_loss  accuracy" in out
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 3
    assert "Summary: baseline" in out and "Stopped: reached 3 epochs" in out and "Run saved in" in out


def test_train_json_is_one_object_with_the_promised_fields(trained):
    cwd, summary = trained
    for key in ("baseline_accuracy", "valid_accuracy", "best_valid_accuracy", "epochs_run", "stopped_because",
                "run_dir", "model_path", "history"):
        assert key in summary
    assert summary["epochs_run"] == 3 and len(summary["history"]) == 3
    assert set(summary["history"][0]) >= {"train_loss", "valid_loss", "valid_accuracy", "seconds"}
    assert summary["valid_accuracy"] > summary["baseline_accuracy"] - 0.05
    run_dir = cwd / summary["run_dir"]
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "checkpoint.safetensors").is_file()
    assert json.loads((run_dir / "summary.json").read_text())["epochs_run"] == 3


def test_main_job_on_the_real_test_set_beats_the_baseline(tmp_path, mnist_test_dir):
    linear = json.loads(run("train", "--valid", mnist_test_dir, "--json", cwd=tmp_path).stdout)
    assert linear["baseline_accuracy"] >= 0.95
    assert linear["valid_accuracy"] >= 0.97 > linear["baseline_accuracy"]
    mlp = json.loads(run("train", "--valid", mnist_test_dir, "--model", "mlp", "--json", cwd=tmp_path).stdout)
    assert mlp["valid_accuracy"] >= 0.975  # the mlp's own recipe, no flags (lr 0.5, batch 64, 40 epochs)
    assert mlp["settings"]["lr"] == 0.5 and mlp["epochs_run"] == 40


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, stop):
    from safetensors.numpy import load_file

    # About 2 s of training: long enough that the interrupt lands mid-run, not after it.
    args = ["train", "--model", "mlp", "--batch-size", "8", "--epochs", "50", "--quiet", "--no-report",
            "--out", tmp_path / "a"]
    run(*args, cwd=tmp_path)
    (straight_dir,) = (tmp_path / "a").iterdir()

    command = [sys.executable, "-m", "sevensteps.cli", *map(str, args[:-1]), tmp_path / "b"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "b").glob("*/checkpoint.safetensors")):
        time.sleep(0.02)
    process.send_signal(stop)
    stdout, _ = process.communicate(timeout=120)
    (run_dir,) = (tmp_path / "b").iterdir()
    assert process.returncode == 128 + stop, "training finished before the interrupt arrived"
    assert f"interrupted by {stop.name}" in stdout and "sevensteps train --resume" in stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs_run"] < 50

    run("train", "--resume", run_dir, "--quiet", "--no-report", cwd=tmp_path)  # the run's own 50 epochs
    assert json.loads((run_dir / "summary.json").read_text())["epochs_run"] == 50
    a = load_file(straight_dir / "model.safetensors")
    b = load_file(run_dir / "model.safetensors")
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def test_baseline_command(tmp_path):
    out = run("baseline", cwd=tmp_path).stdout
    assert "Pixel similarity (l1)" in out and "3:" in out.replace(" ", "")
    data = json.loads(run("baseline", "--metric", "rmse", "--digits", "all", "--json", cwd=tmp_path).stdout)
    assert data["metric"] == "rmse" and len(data["per_class"]) == 10 and 0.5 < data["accuracy"] < 1


def test_steps_walks_through_all_seven(tmp_path):
    out = run("steps", cwd=tmp_path).stdout
    for number, name in enumerate(["init", "predict", "loss", "gradient", "step", "repeat", "stop"], start=1):
        assert f"{number}. {name}" in out
    assert "785 weights" in out or "784 random weights" in out


def test_gradcheck_command(tmp_path):
    data = json.loads(run("gradcheck", "--batch-size", "64", "--json", cwd=tmp_path).stdout)
    assert data["weights"] == 785
    assert data["max_abs_diff"] < 1e-6 and data["speedup"] > 10
    assert "faster" in run("gradcheck", "--batch-size", "32", cwd=tmp_path).stdout


def digit_photo(path: Path, digit: int, dark_on_light: bool, size=(120, 90), colour=True):
    """A real sample digit, enlarged, offset, maybe inverted and in colour: not what the model saw."""
    image = load_splits("sample").valid
    pixels = (image.images[image.labels == digit][0] * 255).astype(np.uint8)
    canvas = np.zeros((size[1], size[0]), np.uint8)
    big = np.asarray(Image.fromarray(pixels).resize((70, 70)))
    canvas[5:75, 30:100] = big
    if dark_on_light:
        canvas = 255 - canvas
    picture = Image.fromarray(canvas)
    (picture.convert("RGB") if colour else picture).save(path)


def test_predict_on_generated_images(trained, tmp_path):
    cwd, summary = trained
    digit_photo(tmp_path / "three.jpg", 3, dark_on_light=True)
    digit_photo(tmp_path / "seven.png", 7, dark_on_light=False, colour=False)
    out = run("predict", tmp_path / "three.jpg", tmp_path / "seven.png", "--model", summary["model_path"],
              "--json", cwd=cwd).stdout
    predictions = json.loads(out)["predictions"]
    assert [p["prediction"] for p in predictions] == ["3", "7"]
    assert all(0.5 < p["probability"] <= 1 for p in predictions)
    text = run("predict", tmp_path / "three.jpg", cwd=cwd).stdout  # newest run by default
    assert "three.jpg: 3 (" in text and f"Model: {summary['model_path']}" in text  # says which model


def test_predict_takes_a_run_folder_and_reports_each_unreadable_image(trained, tmp_path):
    cwd, summary = trained
    digit_photo(tmp_path / "seven.png", 7, dark_on_light=False, colour=False)
    (tmp_path / "notes.png").write_text("not an image")
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    result = run("predict", tmp_path / "notes.png", tmp_path / "seven.png", tmp_path / "blank.png",
                 "--model", summary["run_dir"], cwd=cwd, check_ok=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "seven.png: 7 (" in result.stdout  # the readable image is still classified
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "notes.png" in errors[0] and "blank.png" in errors[1]
    data = json.loads(run("predict", tmp_path / "seven.png", tmp_path / "notes.png", "--model", summary["run_dir"],
                          "--json", cwd=cwd, check_ok=False).stdout)
    assert [p["image"] for p in data["predictions"]] == [str(tmp_path / "seven.png")]
    assert len(data["unreadable"]) == 1 and data["model"].endswith("model.safetensors")


def test_evaluate_prints_accuracy_and_confusion(trained):
    cwd, summary = trained
    data = json.loads(run("evaluate", "--model", summary["model_path"], "--json", cwd=cwd).stdout)
    assert data["images"] == 2038  # the test set's 3s and 7s, the ones training validated on
    confusion = np.array(data["confusion"])
    assert confusion.sum() == data["images"]
    assert data["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert data["accuracy"] == pytest.approx(summary["valid_accuracy"])
    text = run("evaluate", "--model", summary["model_path"], cwd=cwd).stdout
    assert "Confusion matrix" in text and "Accuracy:" in text


@pytest.mark.parametrize("args, fragments", [
    (["train", "--epochs", "0"], ["--epochs", "at least 1"]),
    (["train", "--lr", "-1"], ["--lr", "positive"]),
    (["train", "--lr", "inf"], ["--lr"]),
    (["train", "--frobnicate"], ["unrecognized arguments"]),
    (["train", "--digits", "3,x"], ["--digits"]),
    (["train", "--data", "no/such/folder"], ["no/such/folder", "no such file"]),
    (["train", "--digits", "all", "--loss", "mnist_loss"], ["mnist_loss", "does not fit"]),
    (["train", "--resume", "nowhere"], ["nowhere", "no checkpoint"]),
    (["evaluate", "--model", "missing.safetensors"], ["missing.safetensors", "no such model file"]),
    (["predict", "nothing.png", "--model", "missing.safetensors"], ["missing.safetensors"]),
    (["gradcheck", "--digits", "0-4"], ["two --digits"]),
    (["train", "--epochs", "1", "--out", "occupied"], ["occupied"]),
    (["train", "--seed", "-1"], ["--seed", "-1"]),
    (["train", "--hidden", "1000000000"], ["--hidden", "at most"]),
    (["train", "--digits", "0-99999999999"], ["--digits", "0 to 9"]),
    (["train", "--hidden", "5"], ["--hidden", "mlp", "linear"]),
    (["train", "--digits", "0-4", "--loss", "mnist_loss", "--data", "no/such/folder"], ["mnist_loss", "does not fit"]),
])
def test_errors_are_one_line_and_exit_2(tmp_path, args, fragments):
    (tmp_path / "occupied").write_text("a file where the runs folder should go")
    assert_clean_error(run(*args, cwd=tmp_path, check_ok=False), *fragments)
    assert not (tmp_path / "runs").exists()  # no run folder until the inputs are validated


def test_resume_refuses_flags_that_cannot_change(trained):
    cwd, summary = trained
    result = run("train", "--resume", summary["run_dir"], "--model", "mlp", "--lr", "5", cwd=cwd, check_ok=False)
    assert_clean_error(result, "--model, --lr cannot change")


def test_one_epoch_is_singular_and_help_texts(tmp_path):
    out = run("train", "--epochs", "1", "--no-report", cwd=tmp_path).stdout
    assert "Stopped: reached 1 epoch\n" in out and "1 epochs" not in out
    evaluate_help = run("evaluate", "--help", cwd=tmp_path).stdout
    assert "20%" in evaluate_help and "20%%" not in evaluate_help
    steps_help = run("steps", "--help", cwd=tmp_path).stdout
    assert "images per batch" in steps_help and "random seed" in steps_help


def test_learning_rate_diagnosis_and_no_success_claimed_when_stuck(tmp_path):
    stuck = run("train", "--model", "mlp", "--lr", "100", "--epochs", "3", "--no-report", cwd=tmp_path).stdout
    assert "Warning: accuracy is stuck at" in stuck and "try --lr 10" in stuck
    assert "stuck, not trained" in stuck and "beats" not in stuck
    slow = json.loads(run("train", "--lr", "1e-5", "--epochs", "3", "--json", cwd=tmp_path).stdout)
    assert slow["diagnosis"]["kind"] == "barely_moves" and "--lr 0.0001" in slow["diagnosis"]["message"]


def test_a_closed_stdout_stops_quietly_and_leaves_a_resumable_run(tmp_path):
    command = f"{sys.executable} -m sevensteps.cli train --epochs 30 --no-report | head -2"
    result = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.stdout.count("\n") == 2 and result.stderr == ""
    (run_dir,) = (tmp_path / "runs").iterdir()
    run("train", "--resume", run_dir, "--quiet", "--no-report", cwd=tmp_path)
    assert json.loads((run_dir / "summary.json").read_text())["epochs_run"] == 30


def test_resume_from_a_damaged_run_folder_is_a_clear_error(trained, tmp_path):
    import shutil

    cwd, summary = trained
    run_dir = tmp_path / "copy"
    shutil.copytree(cwd / summary["run_dir"], run_dir)
    (run_dir / "config.json").unlink()
    assert_clean_error(run("train", "--resume", run_dir, cwd=tmp_path, check_ok=False), "config.json")
    (run_dir / "checkpoint.safetensors").write_bytes(b"garbage")
    assert_clean_error(run("train", "--resume", run_dir, cwd=tmp_path, check_ok=False), "checkpoint.safetensors")


def test_bad_model_and_image_files_are_clear_errors(trained, tmp_path):
    cwd, summary = trained
    model = Path(summary["model_path"]) if Path(summary["model_path"]).is_absolute() else cwd / summary["model_path"]
    data = model.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 3])
    assert_clean_error(run("evaluate", "--model", tmp_path / "cut.safetensors", cwd=cwd, check_ok=False),
                       "cut.safetensors", "truncated")
    checkpoint = model.parent / "checkpoint.safetensors"
    assert_clean_error(run("evaluate", "--model", checkpoint, cwd=cwd, check_ok=False), "not a sevensteps-model")
    (tmp_path / "notes.png").write_text("not an image")
    assert_clean_error(run("predict", tmp_path / "notes.png", "--model", model, cwd=cwd, check_ok=False),
                       "notes.png", "not a readable image")
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    assert_clean_error(run("predict", tmp_path / "blank.png", "--model", model, cwd=cwd, check_ok=False),
                       "blank.png", "no ink")
    assert_clean_error(run("predict", tmp_path / "absent.png", "--model", model, cwd=cwd, check_ok=False),
                       "absent.png")


def test_help_is_light():
    code = ("import sys, runpy; sys.argv = ['sevensteps', '--help']\n"
            "try:\n    runpy.run_module('sevensteps.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('matplotlib', 'PIL', 'safetensors', 'mlxtend', 'torch') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "train" in out


def test_hidden_bound_is_the_model_file_bound():
    """--hidden accepts exactly what a model file may claim, so every trained model can be loaded again."""
    from sevensteps import serialize
    from sevensteps.cli import options

    assert options.MAX_HIDDEN == serialize.MAX_HIDDEN
