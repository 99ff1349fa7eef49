"""Sweeps: the local Dask cluster against the same runs one after another, and the engine's cost per run.

1. Speed-up: an 8-configuration sweep (mlp, 4 learning rates × 2 batch sizes, on the sample digits) on a
   LocalCluster of one worker per core, against the same 8 runs trained one by one in this process
   (``train_one``, what each worker runs) with one BLAS thread, as each Dask worker has. (NumPy's default,
   one BLAS thread per core, only makes the sequential side slower when other jobs share the cores.) The
   cold figure starts the cluster inside the timing; the warm one has it up already. Goal: ≥ 1.7× on 2 cores.
2. Per-run overhead: many 1-epoch runs through the engine on an already started 1-worker cluster, minus the
   same runs in this process, per run. Goal: < 50 ms.

On a machine shared with other jobs both figures move with their load: the speed-up can only approach the
number of cores that are actually free, so the same 8 runs also go through a plain process pool (no Dask) in
the same run, as the peer that shows what parallelism this machine gives right now.

    python bench/sweep.py [--epochs 30] [--overhead-runs 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, machine

from sevensteps.sweep import Grid, sweep
from sevensteps.sweep.engine import connect, default_workers, run_all
from sevensteps.sweep.grid import run_name
from sevensteps.sweep.run import train_one


def sequential(configs, out: Path, blas_threads: int | None = None) -> float:
    """The runs one after another in this process; ``blas_threads=1`` as each Dask worker runs them."""
    from threadpoolctl import threadpool_limits  # comes with scikit-learn (mlxtend's dependency)

    start = time.perf_counter()
    with threadpool_limits(blas_threads):
        for config in configs:
            train_one(out / run_name(config), config)
    return time.perf_counter() - start


def train_alone(run_dir: str, config) -> None:
    """One run in a plain worker process with one BLAS thread (the peer without Dask)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        train_one(run_dir, config)


def process_pool(configs, out: Path, workers: int) -> float:
    """The runs on a plain pool of ``workers`` processes (started and warmed outside the timing): what this
    machine's free cores allow right now, with no scheduler at all."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(train_alone, [str(out / f"warm-up-{i}") for i in range(workers)], configs[:1] * workers))
        start = time.perf_counter()
        list(pool.map(train_alone, [str(out / run_name(c)) for c in configs], configs))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--overhead-runs", type=int, default=30)
    args = parser.parse_args()
    grid = dict(model="mlp", lr="0.1,0.3,1,3", batch_size="64,256", epochs=args.epochs)
    configs = Grid.from_values(**grid).configs()
    workers = default_workers()
    print(f"# {machine()}; {workers} worker processes; load average {os.getloadavg()[0]:.1f} "
          "(a machine shared with other jobs)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train_one(tmp / "warm-up", configs[0])  # imports and the data cache, outside every timing
        alone = sequential(configs, tmp / "sequential", blas_threads=1)
        start = time.perf_counter()
        sweep(tmp / "cold", workers=workers, report=False, **grid)
        cold = time.perf_counter() - start
        with connect(workers=workers) as client:
            client.run(lambda: __import__("sevensteps.sweep.run"))
            start = time.perf_counter()
            sweep(tmp / "warm", client=client, report=False, **grid)
            warm = time.perf_counter() - start

        pool = process_pool(configs, tmp / "pool", workers)

        tiny = Grid.from_values(lr=[0.1 * (i + 1) for i in range(args.overhead_runs)], epochs=1).configs()
        in_process = sequential(tiny, tmp / "tiny-alone", blas_threads=1)
        with connect(workers=1) as client:
            run_all(client, [(tmp / "tiny-warm-up", tiny[0])])  # the worker's imports and data cache
            start = time.perf_counter()
            run_all(client, [(tmp / "tiny" / run_name(c), c) for c in tiny])
            engine = time.perf_counter() - start
    overhead = (engine - in_process) / len(tiny)
    rows = [
        Row("sweep", f"8 mlp runs, {args.epochs} epochs: sequential (1 BLAS thread) {alone:.1f}s vs local cluster "
            f"{cold:.1f}s (cluster start included)", f"{alone / cold:.2f}× faster", "≥ 1.7× on 2 cores",
            alone / cold >= 1.7),
        Row("sweep", f"the same on a cluster already started ({warm:.1f}s)", f"{alone / warm:.2f}× faster",
            "≥ 1.7× on 2 cores", alone / warm >= 1.7),
        Row("sweep", f"peer: the same on a plain pool of {workers} processes, no Dask ({pool:.1f}s): what the "
            "free cores allow now", f"{alone / pool:.2f}× faster", "", None),
        Row("sweep", "warm cluster against that plain pool", f"{pool / warm:.2f}× its speed", "", None),
        Row("sweep", f"engine cost per run ({len(tiny)} 1-epoch runs: {engine:.2f}s on 1 worker vs "
            f"{in_process:.2f}s in process, one BLAS thread each)", f"{1000 * overhead:.0f} ms", "< 50 ms",
            overhead < 0.05),
    ]
    for row in rows:
        print(row.markdown())


if __name__ == "__main__":
    main()
