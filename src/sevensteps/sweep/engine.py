"""Running many runs on Dask's distributed scheduler: a LocalCluster of worker processes, or a cluster
started elsewhere with ``dask scheduler`` / ``dask worker`` and reached by its address.

Each task is one run (:func:`sevensteps.sweep.run.train_one`) and carries only its RunConfig and folder;
each worker reads the data once and keeps it. A worker that dies has its runs handed to another by the
scheduler; a run started again continues from its checkpoint, so the result is the same bit for bit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..cli import MMAP_THRESHOLD, TRIM_THRESHOLD
from ..extras import missing
from ..runs import RunConfig
from .run import train_one

# A task whose worker died is re-run by the scheduler; these retries are for a run that raised (a file
# system hiccup on a shared disk, say) before the error is reported.
RETRIES = 2
CONNECT_TIMEOUT = "10s"
# A run holds the GIL for most of its small NumPy steps, and every wake-up of the worker's event loop (in
# another thread) takes it away; on a busy machine each hand-over waits for the OS to schedule that thread.
# Measured on 2 shared cores: runs on a default worker took 3-6x their time in a plain process, 2-3x with
# these settings. The profiler, which samples the task's stack every 10 ms, is pure cost here.
QUIET_WORKERS = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
                 "distributed.worker.memory.monitor-interval": "1s", "distributed.admin.system-monitor.interval": "2s"}
# Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand freed memory back to the OS soon), and
# setting any such threshold turns off glibc's adaptive mmap threshold: every batch-sized array (0.2-0.8 MB)
# is then mmap'd afresh and faulted in page by page. Measured: 330,000 page faults for 8 mlp runs and 17% of
# the runs' CPU time; with these values, about 100 faults. They are what `sevensteps train` sets for itself
# (cli.keep_freed_memory), given to the local cluster's worker processes, which are ours, through their
# environment (glibc reads it at start).
KEEP_FREED_MEMORY = {"MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD, "MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD}
# A sweep ends when its last run does, so the longest runs go first (a long run handed out last would keep one
# worker busy while the others idle). A run's work per epoch is a pass over the data plus a cost per step;
# measured on the sample with one BLAS thread: mlp 14.6 ms + 0.97 s / batch size, linear 5.9 ms + 0.66 s /
# batch size; the mlp's hidden layer 4x wider 2.7x the time, 16x wider 6.2x; cnn about 28x the mlp per image
# (BENCHMARKS.md, batch 64).
MODEL_WORK = {"linear": 0.4, "mlp": 1.0, "cnn": 28.0}


def import_distributed() -> Any:
    """``dask.distributed``, or MissingExtra with the one line that says how to get it."""
    try:
        import dask.distributed
    except ImportError as error:
        raise missing("sweep", "Dask", "cluster") from error
    return dask.distributed


def default_workers() -> int:
    """One single-threaded worker process per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def connect(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask Client: to ``scheduler`` (``tcp://HOST:PORT``) if given, else to a new LocalCluster of
    ``workers`` processes with one thread each (BLAS limited to one thread each by Dask), started with
    :func:`local_worker_settings`. Closed on exit."""
    distributed = import_distributed()
    if scheduler is not None:
        check_reachable(scheduler)
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({error})") from None
        with client:
            yield client
        return
    from .worker import import_what_a_run_needs

    import_what_a_run_needs()  # once here, inherited by the forked workers
    # Logs at CRITICAL only: a worker still sending its heartbeat while the cluster closes logs a traceback at
    # ERROR; a run that fails raises its own error in this process (run_all).
    with local_worker_settings():
        # No dashboard; the scheduler's small HTTP server (health checks) on any free loopback port, not 8787,
        # so a second sweep does not warn "Port 8787 is already in use".
        cluster = distributed.LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                           processes=True, dashboard_address=None, silence_logs=50,
                                           scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    with cluster, distributed.Client(cluster) as client:
        yield client


def local_worker_settings() -> Any:
    """The Dask settings the local cluster's workers start with (a ``dask.config.set`` context): forked from
    this process where the OS can, prepared by :mod:`sevensteps.sweep.worker`; a spawned worker gets Dask's
    own environment (one BLAS thread each) plus KEEP_FREED_MEMORY; QUIET_WORKERS for both."""
    import dask

    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), **KEEP_FREED_MEMORY}
    # Workers forked from this process start with everything imported and the data read (measured on 2 cores
    # at a load of 14-19: the cluster up in 1.1-2.5 s against 10-20 s spawning fresh Pythons; the 8-run mlp
    # sweep 20% less CPU); sevensteps.sweep.worker then sets what a fresh process reads from its environment.
    # Linux only: macOS offers fork, but its system libraries are not safe in a forked child.
    forks = sys.platform.startswith("linux")
    method = "fork" if forks else "spawn"
    return dask.config.set({**QUIET_WORKERS, "distributed.nanny.pre-spawn-environ": environ,
                            "distributed.worker.multiprocessing-method": method,
                            "distributed.worker.preload": ["sevensteps.sweep.worker"]})


def check_reachable(scheduler: str) -> None:
    """Fail at once, in one line, when nothing listens at ``tcp://HOST:PORT`` (Dask itself retries until its
    timeout)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host = port = None
    if parts.scheme != "tcp" or not host or not port:
        raise ConnectionError(f"--scheduler {scheduler}: expected an address like tcp://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        raise ConnectionError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there "
                              f"({error.strerror or error})") from None


def expected_work(config: RunConfig) -> float:
    """A run's rough cost, to start the longest first: epochs × (1 + 66 / batch size) × the model's weight
    (× (hidden / 30)^⅔ for the mlp). Only the order matters."""
    settings = config.settings
    work = MODEL_WORK.get(settings.model, 1.0) * config.rules.epochs * (1 + 66 / settings.batch_size)
    if settings.model == "mlp":
        work *= (settings.hidden / 30) ** (2 / 3)
    return work


def run_all(client: Any, runs: Sequence[tuple[Path, RunConfig]], run_report: bool = False,
            on_done: Callable[[Path, dict[str, Any]], None] | None = None) -> dict[Path, dict[str, Any]]:
    """Submit every (run folder, config) to ``client``, longest first; return run folder → summary as they all
    finish.

    ``on_done(run_dir, summary)`` is called in the caller's thread as each run completes (a progress bar).
    The first run that fails for good raises its own error here, after the other runs were cancelled.
    """
    distributed = import_distributed()
    longest_first = sorted(runs, key=lambda run: expected_work(run[1]), reverse=True)
    futures = {client.submit(train_one, str(run_dir), config, run_report, pure=False, retries=RETRIES,
                             priority=len(runs) - i,  # Dask starts the highest priority first
                             key=f"sevensteps-run-{run_dir.name}-{os.urandom(4).hex()}"): run_dir
               for i, (run_dir, config) in enumerate(longest_first)}
    results: dict[Path, dict[str, Any]] = {}
    try:
        for future in distributed.as_completed(futures):
            run_dir = futures[future]
            results[run_dir] = future.result()
            if on_done is not None:
                on_done(run_dir, results[run_dir])
    finally:
        client.cancel([f for f in futures if not f.done()])
    return results
