"""Sweeps: `sevensteps sweep` against the same runs one by one with `sevensteps train`, and the engine's cost.

The sweep is the one that chose the mlp's recipe: which learning rate at which batch size for the hidden-layer
model on the chapter's data (``--model mlp --lr 0.1,0.3,1,3 --batch-size 64,256``, the recipe's 40 epochs),
8 runs of about one CPU second each.

1. As the user meets it (whole commands, cluster start-up included), alternated ``--repeats`` times:
   - one by one: the 8 ``sevensteps train ... --no-report`` commands, one after another, as a user types
     them today (NumPy's default BLAS threads);
   - the same with ``OPENBLAS_NUM_THREADS=1`` (one thread, as each Dask worker runs);
   - ``sevensteps sweep ... --no-report`` (a LocalCluster of one worker per core);
   - peer: the 8 train commands two at a time (``xargs -P 2``), one BLAS thread each, no Dask: what the free
     cores allow right now.
   Goal: the sweep ≥ 1.7× faster than one by one, on 2 cores.
2. The engine inside one process: the 8 runs one after another (``train_one``, one BLAS thread) against a
   cluster already started, and against a plain pool of worker processes (no Dask), also already started.
3. Per-run overhead: many 1-epoch runs on a started 1-worker cluster, minus the same runs in this process.
   Goal: < 50 ms.

Wall times move with the machine's load; CPU time (user + system of every process involved) is printed
beside each so a loaded run can still be read.

    python bench/sweep.py [--repeats 2] [--overhead-runs 30]     # about 2 minutes on a quiet 2-core machine
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, machine, median

from sevensteps.cli import keep_freed_memory
from sevensteps.sweep import Grid, sweep
from sevensteps.sweep.engine import connect, default_workers, run_all
from sevensteps.sweep.grid import run_name
from sevensteps.sweep.run import train_one

GRID = {"model": "mlp", "lr": "0.1,0.3,1,3", "batch_size": "64,256"}
SEVENSTEPS = [sys.executable, "-m", "sevensteps.cli"]


def cpu_seconds() -> float:
    """User + system time of this process and of every child it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``function()``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    function()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def train_commands(out: Path) -> list[list[str]]:
    """The 8 ``sevensteps train`` commands a user would type for the grid. Each has its own --out: two
    commands started in the same second would race for one run folder name (runs.fresh_dir)."""
    return [[*SEVENSTEPS, "train", "--model", c.settings.model, "--lr", f"{c.settings.lr:g}", "--batch-size",
             str(c.settings.batch_size), "--no-report", "--out", str(out / str(i))]
            for i, c in enumerate(Grid.from_values(**GRID).configs())]


def sweep_command(out: Path) -> list[str]:
    return [*SEVENSTEPS, "sweep", "--model", GRID["model"], "--lr", GRID["lr"], "--batch-size", GRID["batch_size"],
            "--no-report", "--out", str(out)]


def run_commands(commands: list[list[str]], at_once: int = 1, env: dict[str, str] | None = None) -> None:
    def one(command: list[str]) -> None:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)

    with ThreadPoolExecutor(at_once) as pool:
        list(pool.map(one, commands))


def as_the_user_meets_it(tmp: Path, repeats: int) -> dict[str, list[tuple[float, float]]]:
    """Each side ``repeats`` times, alternating (A B C D, D C B A, ...) so drift in the load hits all alike."""
    one_thread = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    sides = {
        "one by one": lambda out: run_commands(train_commands(out)),
        "one by one, 1 BLAS thread": lambda out: run_commands(train_commands(out), env=one_thread),
        "sweep": lambda out: run_commands([sweep_command(out)]),
        "two at a time": lambda out: run_commands(train_commands(out), at_once=2, env=one_thread),
    }
    run_commands(train_commands(tmp / "warm-up")[:1])  # the OS's file cache, outside every timing
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for r in range(repeats):
        for name in sides if r % 2 == 0 else list(sides)[::-1]:
            times[name].append(timed(lambda: sides[name](tmp / f"{name}-{r}")))  # noqa: B023 (called at once)
    return times


def train_alone(run_dir: str, config) -> None:
    """One run in a plain worker process with one BLAS thread (the peer without Dask)."""
    from threadpoolctl import threadpool_limits

    keep_freed_memory()
    with threadpool_limits(1):
        train_one(run_dir, config)


def process_pool(configs, out: Path, workers: int) -> float:
    """The runs on a plain pool of ``workers`` processes, started and warmed outside the timing."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(train_alone, [str(out / f"warm-up-{i}") for i in range(workers)], configs[:1] * workers))
        start = time.perf_counter()
        list(pool.map(train_alone, [str(out / run_name(c)) for c in configs], configs))
        return time.perf_counter() - start


def sequential(configs, out: Path) -> float:
    """The runs one after another in this process with one BLAS thread, as each Dask worker runs them."""
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with threadpool_limits(1):
        for config in configs:
            train_one(out / run_name(config), config)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--overhead-runs", type=int, default=30)
    args = parser.parse_args()
    keep_freed_memory()  # as `sevensteps train` and the sweep's workers run
    configs = Grid.from_values(**GRID).configs()
    workers = default_workers()
    print(f"# {machine()}; {workers} worker processes; load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        user = as_the_user_meets_it(tmp / "commands", args.repeats)
        load_after_commands = os.getloadavg()[0]

        train_one(tmp / "warm-up", configs[0])  # imports and the data cache, outside every timing
        alone = sequential(configs, tmp / "sequential")
        with connect(workers=workers) as client:
            client.run(lambda: __import__("sevensteps.sweep.run"))
            start = time.perf_counter()
            sweep(tmp / "warm", client=client, report=False, **GRID)
            warm = time.perf_counter() - start
        pool = process_pool(configs, tmp / "pool", workers)

        tiny = Grid.from_values(lr=[0.1 * (i + 1) for i in range(args.overhead_runs)], epochs=1).configs()
        in_process = sequential(tiny, tmp / "tiny-alone")
        with connect(workers=1) as client:
            run_all(client, [(tmp / "tiny-warm-up", tiny[0])])  # the worker's imports and data cache
            start = time.perf_counter()
            run_all(client, [(tmp / "tiny" / run_name(c), c) for c in tiny])
            engine = time.perf_counter() - start
    overhead = (engine - in_process) / len(tiny)

    def wall(name: str) -> float:
        return median([w for w, _ in user[name]])

    def cpu(name: str) -> float:
        return median([c for _, c in user[name]])

    def each(name: str) -> str:
        return ", ".join(f"{w:.1f}" for w, _ in user[name])

    n = f"median of {args.repeats}"
    speed_up, one_thread = wall("one by one") / wall("sweep"), wall("one by one, 1 BLAS thread") / wall("sweep")
    rows = [
        Row("sweep", f"`sevensteps sweep` ({wall('sweep'):.1f} s: {each('sweep')}; CPU {cpu('sweep'):.1f} s) against "
            f"8 `sevensteps train` one by one ({wall('one by one'):.1f} s: {each('one by one')}; CPU "
            f"{cpu('one by one'):.1f} s), {n}, cluster start-up included", f"{speed_up:.2f}× faster",
            "≥ 1.7× on 2 cores", speed_up >= 1.7),
        Row("sweep", "the same against the 8 `train` one by one with one BLAS thread "
            f"({wall('one by one, 1 BLAS thread'):.1f} s: {each('one by one, 1 BLAS thread')}; "
            f"CPU {cpu('one by one, 1 BLAS thread'):.1f} s)",
            f"{one_thread:.2f}× faster", "≥ 1.7× on 2 cores", one_thread >= 1.7),
        Row("sweep", f"peer: the 8 `train` two at a time, 1 BLAS thread each, no Dask ({wall('two at a time'):.1f} s: "
            f"{each('two at a time')}; CPU {cpu('two at a time'):.1f} s): what the free cores allow now",
            f"{wall('one by one') / wall('two at a time'):.2f}× faster; the sweep "
            f"{wall('two at a time') / wall('sweep'):.2f}× its speed", "", None),
        Row("sweep", f"in one process: the 8 runs one after another (1 BLAS thread, {alone:.1f} s) against a "
            f"cluster already started ({warm:.1f} s)", f"{alone / warm:.2f}× faster", "", None),
        Row("sweep", f"in one process, peer: a plain pool of {workers} processes already started ({pool:.1f} s)",
            f"{alone / pool:.2f}× faster; the warm cluster {pool / warm:.2f}× its speed", "", None),
        Row("sweep", f"engine cost per run ({len(tiny)} 1-epoch runs: {engine:.2f} s on 1 worker vs "
            f"{in_process:.2f} s in process, one BLAS thread each)", f"{1000 * overhead:.0f} ms", "< 50 ms",
            overhead < 0.05),
    ]
    print(f"# load average {load_after_commands:.1f} after the commands, {os.getloadavg()[0]:.1f} at the end")
    for row in rows:
        print(row.markdown())


if __name__ == "__main__":
    main()
