"""The sweep engine: the longest runs first; a local cluster whose workers start prepared and which leaves port
8787 alone."""

from __future__ import annotations

import gc
import socket
import warnings

from sevensteps.runs import CONFIG, Rules, RunConfig, Settings
from sevensteps.sweep.engine import connect, expected_work, run_all


def config(model: str = "linear", batch_size: int = 256, epochs: int = 1, hidden: int = 30) -> RunConfig:
    return RunConfig(settings=Settings(model=model, batch_size=batch_size, hidden=hidden),
                     rules=Rules(epochs=epochs))


def test_expected_work_grows_with_what_makes_a_run_longer():
    assert expected_work(config(batch_size=16)) > expected_work(config(batch_size=64)) > expected_work(config())
    assert expected_work(config(epochs=40)) == 40 * expected_work(config(epochs=1))
    assert expected_work(config("cnn")) > expected_work(config("mlp")) > expected_work(config("linear"))
    assert expected_work(config("mlp", hidden=120)) > expected_work(config("mlp", hidden=30))
    # measured on the sample: an mlp epoch at batch 64 costs about 4x a linear one at batch 256
    assert 3 < expected_work(config("mlp", batch_size=64)) / expected_work(config()) < 6


def test_the_longest_runs_start_first_on_prepared_workers_and_a_busy_port_8787_is_no_warning(tmp_path):
    """On one worker the runs start one after another: in the order of their expected work, although they
    were given shortest first (each run writes its config.json as it starts)."""
    runs = [(tmp_path / name, c) for name, c in [("short", config()), ("middle", config(batch_size=64)),
                                                 ("long", config("mlp", batch_size=16, epochs=2))]]
    busy = socket.socket()
    try:
        busy.bind(("", 8787))  # as a second sweep, or a notebook's Dask dashboard, would hold it
        busy.listen()
    except OSError:  # held already by someone else: just as good
        pass
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with connect(workers=1) as client:
                # each worker has what a run needs imported, its heap frozen, one BLAS thread (sweep.worker)
                frozen = client.run(gc.get_freeze_count)
                imported = client.run(lambda: "sevensteps.digits" in __import__("sys").modules)
                blas = client.run(lambda: {p["num_threads"] for p in __import__("threadpoolctl").threadpool_info()})
                summaries = run_all(client, runs)
    finally:
        busy.close()
    assert set(summaries) == {run_dir for run_dir, _ in runs}
    started = sorted(runs, key=lambda run: (run[0] / CONFIG).stat().st_mtime_ns)
    assert [run_dir.name for run_dir, _ in started] == ["long", "middle", "short"]
    assert not [w for w in caught if "8787" in str(w.message)], [str(w.message) for w in caught]
    assert all(count > 10_000 for count in frozen.values()), frozen
    assert all(imported.values()), imported
    assert all(threads == {1} for threads in blas.values()), blas
