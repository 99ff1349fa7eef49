"""Sweeps on a real Dask cluster (no mocks): grids, a killed worker, a killed client, an external scheduler.

Tiny grids on the embedded sample data keep the whole file near a minute.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_clean_error
from dask import distributed  # the cluster extra belongs to the test environment: never skipped
from safetensors.numpy import load_file

from sevensteps.runs import MODEL, SUMMARY, RunConfig
from sevensteps.sweep import Grid, GridError, sweep
from sevensteps.sweep.engine import connect, run_all
from sevensteps.sweep.grid import run_name
from sevensteps.sweep.run import train_one

CLI = "import sys, sevensteps.cli as cli\nsys.exit(cli.main())"  # `sevensteps`, as code a test can prefix


def cli_command(*args) -> list[str]:
    return [sys.executable, "-c", CLI, *map(str, args)]


def sevensteps(*args, cwd, timeout=120):
    return subprocess.run(cli_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    return load_file(str(Path(run_dir) / MODEL))


def outcome(summary: dict) -> tuple:
    """What must be equal between two trainings of one config: every number but the wall-clock times."""
    history = [{k: v for k, v in e.items() if k != "seconds"} for e in summary["history"]]
    return summary["valid_accuracy"], summary["best_valid_accuracy"], summary["stopped_because"], history


def assert_same_as_sequential(runs: list[tuple[Path, RunConfig]], alone_dir: Path) -> None:
    """Each run folder equals the same config trained alone in this process, bit for bit."""
    for run_dir, config in runs:
        alone = train_one(alone_dir / run_dir.name, config)
        assert outcome(json.loads((run_dir / SUMMARY).read_text())) == outcome(alone)
        ours, theirs = weights(run_dir), weights(alone_dir / run_dir.name)
        assert ours.keys() == theirs.keys()
        for name in ours:
            assert np.array_equal(ours[name], theirs[name]), (run_dir.name, name)


@pytest.fixture(scope="module")
def client():
    """The local cluster `sweep` starts (a real LocalCluster of two single-threaded worker processes), shared by
    the API tests."""
    with connect(workers=2) as c:
        yield c


# ---------------------------------------------------------------- grids


@pytest.mark.parametrize("flags, fragment", [
    (["--lr", "0,abc"], "'0' is not a positive number"),
    (["--lr", "0.1,abc"], "'abc' is not a positive number"),
    (["--lr", ""], "--lr '': an empty value"),
    (["--batch-size", "64,"], "--batch-size '64,': an empty value"),
    (["--model", "linear,resnet"], "'resnet' is not a model name"),
    (["--hidden", "10,20"], "--hidden applies to the mlp model"),
    (["--lr", ",".join(str(i + 1) for i in range(100)), "--batch-size", ",".join(str(i + 1) for i in range(100))],
     "10,000 runs"),
])
def test_bad_grids_are_refused_in_one_line_before_anything_runs(tmp_path, flags, fragment):
    result = sevensteps("sweep", *flags, cwd=tmp_path)
    assert_clean_error(result, fragment)
    assert not (tmp_path / "sweeps").exists()


def test_a_big_grid_needs_yes_and_duplicates_count_once():
    grid = Grid.from_values(lr="0.1,1,0.1", model="linear,mlp", hidden="10,20", seeds=3)
    # linear ignores --hidden: 2 lrs × (1 linear + 2 mlp sizes) × 3 seeds
    assert len(grid.configs()) == 2 * 3 * 3
    with pytest.raises(GridError, match="101 runs"):
        Grid.from_values(lr=[i + 1 for i in range(101)]).check_size()
    assert len(Grid.from_values(lr=[i + 1 for i in range(101)]).check_size(yes=True)) == 101


def test_without_dask_the_command_says_so_in_one_line(tmp_path):
    hide = "import sys; sys.modules['dask'] = None; sys.modules['dask.distributed'] = None\n"
    result = subprocess.run([sys.executable, "-c", hide + CLI, "sweep", "--lr", "0.1,1", "--epochs", "1"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert_clean_error(result, 'sweep needs Dask, which is not installed: pip install "sevensteps[cluster]"')


# ---------------------------------------------------------------- on a local cluster


def data_reads(client) -> dict[str, tuple[int, int]]:
    """Each worker's (reads of the data, runs served from its cache)."""
    def info():
        from sevensteps.sweep.run import load_data

        return load_data.cache_info().misses, load_data.cache_info().hits

    return client.run(info)


def test_a_small_grid_completes_with_a_table_runs_and_a_report(client, tmp_path):
    before = data_reads(client)
    results = sweep(tmp_path, client=client, lr="0.1,1", seeds=2, epochs=2)
    after = data_reads(client)
    assert all(misses <= 1 for misses, _ in after.values()), "each worker reads the data once"
    assert sum(sum(after[w]) - sum(before[w]) for w in after) == 4
    assert [row.label for row in results.rows] == ["linear-sgd-lr0.1-bs256-e2", "linear-sgd-lr1-bs256-e2"]
    runs = sorted((results.sweep_dir / "runs").iterdir())
    assert len(runs) == 4 and results.trained == 4 and results.skipped == 0
    for run_dir in runs:  # ordinary run folders: train --resume, report, predict and evaluate read them
        assert {"config.json", "summary.json", "model.safetensors", "checkpoint.safetensors"} <= {
            p.name for p in run_dir.iterdir()}
        assert RunConfig.load(run_dir).rules.epochs == 2
    for row in results.rows:
        accuracies = [json.loads((Path(d) / SUMMARY).read_text())["valid_accuracy"] for d in row.run_dirs]
        assert row.valid_accuracy_mean == pytest.approx(np.mean(accuracies))
        assert row.valid_accuracy_std == pytest.approx(np.std(accuracies))
        assert row.seeds == [0, 1] and row.epochs_run == [2, 2]
    saved = json.loads((results.sweep_dir / "results.json").read_text())
    assert [r["label"] for r in saved["rows"]] == [r.label for r in results.rows]
    page = results.report.read_text()
    assert page.count("data:image/png;base64,") == 3 and "http" not in page.split("<body>")[1]
    assert "pixel similarity" in results.verdict and "seed-to-seed spread" in results.verdict


def test_local_workers_keep_freed_memory_as_sevensteps_train_does(client, tmp_path):
    """Dask's default worker environment switches off glibc's adaptive mmap threshold: a run then faults in
    every batch-sized array afresh (about 13,000 page faults for this run, measured). Ours reuses them."""
    def page_faults(run_dir, config):
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        train_one(run_dir, config)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    worker = next(iter(client.scheduler_info()["workers"]))
    configs = Grid.from_values(model="mlp", lr="0.5,1", epochs=5).configs()
    faults = [client.submit(page_faults, str(tmp_path / run_name(c)), c, workers=[worker], pure=False).result()
              for c in configs]  # the first run also reads the data and builds every buffer
    assert faults[1] < 1000, faults


def test_a_killed_worker_loses_no_run_and_changes_no_number(tmp_path):
    configs = Grid.from_values(lr="0.5,1", seeds=2, epochs=25).configs()
    runs = [(tmp_path / "sweep" / run_name(c), c) for c in configs]
    killed = []
    with connect(workers=2) as client:
        pids = client.run(os.getpid)

        def kill_a_busy_worker(run_dir, summary):
            busy = [address for address, keys in client.processing().items() if keys]
            if not killed and busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])

        results = run_all(client, runs, on_done=kill_a_busy_worker)
    assert killed, "no worker was busy when the first run finished"
    assert sorted(results) == sorted(run_dir for run_dir, _ in runs)
    assert all(not s["interrupted"] and s["epochs_run"] == 25 for s in results.values())
    assert_same_as_sequential(runs, tmp_path / "alone")


def test_a_sweep_run_equals_sevensteps_train_with_the_same_flags(client, tmp_path):
    results = sweep(tmp_path / "sweeps", client=client, model="mlp", hidden=8, lr=0.5, epochs=3, seeds=1, report=False)
    (run_dir,) = results.rows[0].run_dirs
    alone = subprocess.run([sys.executable, "-m", "sevensteps.cli", "train", "--model", "mlp", "--hidden", "8",
                            "--lr", "0.5", "--epochs", "3", "--seed", "0", "--out", tmp_path / "train", "--json",
                            "--no-report"], capture_output=True, text=True, timeout=120, check=True)
    summary = json.loads(alone.stdout)
    assert outcome(summary) == outcome(json.loads((Path(run_dir) / SUMMARY).read_text()))
    ours, theirs = weights(run_dir), weights(summary["run_dir"])
    assert all(np.array_equal(ours[name], theirs[name]) for name in ours)


def test_resume_after_a_killed_client_finishes_the_rest_without_redoing_finished_runs(tmp_path):
    command = cli_command("sweep", "--lr", "0.25,0.5,1", "--seeds", "2", "--epochs", "40", "--workers", "2",
                          "--no-report")
    client = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    finished: dict[Path, float] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not finished:
            finished = {p.parent: p.stat().st_mtime_ns for p in tmp_path.glob("sweeps/*/runs/*/summary.json")}
            time.sleep(0.05)
    finally:  # the client, its cluster and its workers: the whole session, as a killed terminal would
        os.killpg(client.pid, signal.SIGKILL)
        client.wait(timeout=30)
    # A worker may have finished another run between the last look and the kill: count again once all is dead.
    time.sleep(1.0)
    finished = {p.parent: p.stat().st_mtime_ns for p in tmp_path.glob("sweeps/*/runs/*/summary.json")}
    assert 1 <= len(finished) < 6, "the sweep should have been killed part-way"
    (sweep_dir,) = tmp_path.glob("sweeps/*")
    models = {run_dir: (run_dir / MODEL).stat().st_mtime_ns for run_dir in finished}

    result = sevensteps("sweep", "--resume", sweep_dir, "--workers", "2", "--no-report", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{len(finished)} run(s) were already finished" in result.stdout
    runs = sorted((sweep_dir / "runs").iterdir())
    assert len(runs) == 6 and all(json.loads((r / SUMMARY).read_text())["epochs_run"] == 40 for r in runs)
    for run_dir, mtime in finished.items():  # not trained again: not a byte rewritten
        assert (run_dir / SUMMARY).stat().st_mtime_ns == mtime
        assert (run_dir / MODEL).stat().st_mtime_ns == models[run_dir]
    unfinished = [r for r in runs if r not in finished]
    assert_same_as_sequential([(r, RunConfig.load(r)) for r in unfinished[:2]], tmp_path / "alone")


def test_resume_refuses_a_new_grid(tmp_path):
    result = sevensteps("sweep", "--resume", tmp_path, "--lr", "1", cwd=tmp_path)
    assert_clean_error(result, "--lr cannot change")
    result = sevensteps("sweep", "--resume", tmp_path, cwd=tmp_path)
    assert_clean_error(result, "sweep.json: not a sweep folder to resume")


# ---------------------------------------------------------------- an existing cluster


def readme_worker_env() -> dict[str, str]:
    """The environment after the README's ``export DASK_...=...`` lines for hand-started workers."""
    readme = re.sub(r"\\\n\s*", "", (Path(__file__).resolve().parents[1] / "README.md").read_text())
    exports = re.findall(r"^export (DASK_\w+)=(\"[^\"]*\"|\S+)$", readme, flags=re.MULTILINE)
    assert len(exports) == 2, exports
    return {**os.environ, **{name: value.strip('"') for name, value in exports}}


def test_scheduler_flag_runs_on_a_dask_scheduler_and_two_dask_workers(tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    processes = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", scheduler_file], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        env = readme_worker_env()
        for name in ("one", "two"):
            processes.append(subprocess.Popen(
                [*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", name], cwd=tmp_path,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env))
        with distributed.Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=30)
            # the README's exports reach the worker processes
            assert set(c.run(lambda: os.environ.get("MALLOC_MMAP_THRESHOLD_")).values()) == {"33554432"}
            assert set(c.run(lambda: __import__("dask").config.get("distributed.worker.profile.enabled")).values()) \
                == {False}
        result = sevensteps("sweep", "--scheduler", address, "--lr", "0.5,1", "--epochs", "2", "--json",
                            cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        table = json.loads(result.stdout)
        assert [len(row["run_dirs"]) for row in table["rows"]] == [1, 1]
        assert Path(table["report"]).is_file()
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.parametrize("address, fragment", [
    ("tcp://127.0.0.1:9", "--scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler there"),
    ("tcp://127.0.0.1:port", "expected an address like tcp://HOST:PORT"),
])
def test_an_unreachable_or_malformed_scheduler_is_one_line(tmp_path, address, fragment):
    result = sevensteps("sweep", "--scheduler", address, "--epochs", "1", cwd=tmp_path, timeout=60)
    assert_clean_error(result, fragment)
