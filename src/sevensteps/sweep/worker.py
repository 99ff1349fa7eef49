"""What each worker process of the local cluster does as it starts (a Dask preload: ``dask_setup``).

On Linux the local cluster forks its workers from the sweep's own process, which has already imported Dask,
NumPy and sevensteps and read the data: a worker is up at once instead of starting Python afresh and importing
everything again. What a fresh process would have read from its environment at start, a forked one inherited
from its parent instead, so it is set here: one thread for the ops and the BLAS (two workers on two cores, each
with a thread per core, would fight over them) and glibc keeping freed memory, as ``sevensteps train`` does.
"""

from __future__ import annotations

from typing import Any


def prepare_worker() -> None:
    """One thread (ops and BLAS), glibc keeping freed memory, the modules a run needs, then ``gc.freeze``: Dask's and
    NumPy's imports leave a large heap that lives as long as the worker; frozen, it is no longer walked by the
    garbage collections during training nor by the last one at exit (closing the cluster took 1.1-1.7 s,
    0.15-0.3 s frozen, measured on 2 cores under load)."""
    import gc

    from threadpoolctl import threadpool_limits

    from ..cli import keep_freed_memory
    from ..threads import set_num_threads

    import_what_a_run_needs()
    set_num_threads(1)  # one thread for the ops, whatever the parent process had,
    threadpool_limits(1)  # and one for the BLAS and any OpenMP library loaded
    keep_freed_memory()
    gc.freeze()


def import_what_a_run_needs() -> None:
    """The modules train_one and prepare_worker need. The sweep's process imports them before it forks its
    workers, so that each worker need not (0.5 s of a worker's start, measured under load)."""
    from .. import callbacks, checkpoint, digits  # noqa: F401
    from ..cli import keep_freed_memory  # noqa: F401
    from . import run  # noqa: F401

    try:
        import threadpoolctl
    except ImportError:
        return
    threadpoolctl.threadpool_info()  # finds the BLAS libraries once (0.1 s), for every forked worker


def dask_setup(worker: Any) -> None:
    """Dask calls this in each worker process of the local cluster as it starts (``distributed.worker.preload``)."""
    prepare_worker()
