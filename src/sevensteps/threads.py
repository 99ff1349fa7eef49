"""Intra-op parallelism: how many threads one op may use, and how an op splits its work across them.

NumPy runs a matrix product on every core (its BLAS has threads of its own) but an elementwise loop on one,
and a cnn's pooling, im2col gather and col2im are big elementwise passes. So, as PyTorch does, sevensteps can
split an op's work over threads itself: the products by rows or columns of their result, the elementwise
passes by channels. Each part writes its own slice of the result, and NumPy releases the GIL inside its
loops, so the parts really run at once.

``set_num_threads(n)`` turns this on (as ``torch.set_num_threads``): ops split big work into ``n`` parts, and
NumPy's BLAS, which is process-wide, gets one thread, so that the BLAS's threads and ours never compete for
the cores. (OpenBLAS's threads spin-wait for their next product for a while after each one; an elementwise
part that runs meanwhile gets half a core.) Until it is called, ops split nothing and NumPy's BLAS threads
do the products, as in plain NumPy. It pays for convnets; a small MLP's products run faster on OpenBLAS's own
threads (bench/threads.py). ``sevensteps train --model cnn`` calls it with every core it may use.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .backend import xp

# Handing a part to a thread costs some tens of microseconds: worth it only for work that takes a
# millisecond or more on one core. An op splits elementwise work only above this many elements...
MIN_PARALLEL_SIZE = 1 << 18
# ... and a product only above this many multiply-adds (m·k·n).
MIN_PARALLEL_PRODUCT = 1 << 22

_THREAD_NAME = "sevensteps-op"
_lock = threading.Lock()
_num_threads = 1
_pool: ThreadPoolExecutor | None = None


def available_cores() -> int:
    """The cores this process may run on, or ``OMP_NUM_THREADS`` (then ``OPENBLAS_NUM_THREADS``) if set."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """How many parts an op splits its big work into (1 until :func:`set_num_threads` is called)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Split each op's big products and elementwise passes over ``n`` threads, and give NumPy's BLAS one.

    As ``torch.set_num_threads``: ``n`` is how many cores sevensteps' ops use. The BLAS setting is
    process-wide (through threadpoolctl), as the BLAS's own threads are.
    """
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a whole number >= 1, not {n!r}")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    with _lock:
        _num_threads = n
        if _pool is not None:  # a pool of the old size: its idle threads end; a new one starts when needed
            _pool.shutdown(wait=False)
            _pool = None


def _submit(body: Callable[[slice], None], parts: list[slice]) -> list[Future]:
    """Hand ``parts`` to the pool (started on first use), under the lock that set_num_threads swaps it under."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_num_threads - 1, thread_name_prefix=_THREAD_NAME)
        return [_pool.submit(body, part) for part in parts]


def _forget_pool() -> None:
    """In a forked child the parent's pool threads do not exist: start a new pool when one is needed."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def parallel_for(n: int, body: Callable[[slice], None], size: int, min_size: int | None = None) -> None:
    """Run ``body(part)`` over consecutive parts of ``range(n)`` that together cover it, one part per thread.

    ``body`` must write only where its part says (its slices of the outputs), so that parts never overlap.
    ``size`` measures the whole work: below ``min_size`` (default MIN_PARALLEL_SIZE) it runs inline, as
    ``body(slice(0, n))``. The calling thread runs the first part itself while the pool runs the others.
    """
    min_size = MIN_PARALLEL_SIZE if min_size is None else min_size
    threads = min(_num_threads, n)
    # a part already running on the pool runs any work it starts inline: waiting for the pool from inside
    # the pool could wait for ever
    if threads <= 1 or size < min_size or threading.current_thread().name.startswith(_THREAD_NAME):
        body(slice(0, n))
        return
    bounds = [n * i // threads for i in range(threads + 1)]
    parts = [slice(start, stop) for start, stop in itertools.pairwise(bounds)]
    futures = _submit(body, parts[1:])
    try:
        body(parts[0])
    finally:
        for future in futures:  # every part has finished before anything it writes to can be freed
            future.exception()
    for future in futures:
        future.result()  # a part's error, raised in the caller


def matmul(a: Any, b: Any) -> Any:
    """``a @ b``, as ``numpy.matmul``; a product of two matrices is split over the threads when it is big: by
    rows of ``a`` when the result is taller than wide, else by columns of ``b``. Each part is a whole product
    into its own slice of the result: no part waits for another, and no sum is split, so each number is summed
    in one piece. Vectors and stacks of matrices are NumPy's alone."""
    if a.ndim != 2 or b.ndim != 2:
        return xp.matmul(a, b)
    (m, k), n = a.shape, b.shape[1]
    out = xp.empty((m, n), dtype=xp.result_type(a, b))
    if m >= n:
        parallel_for(m, lambda rows: xp.matmul(a[rows], b, out=out[rows]), m * k * n, MIN_PARALLEL_PRODUCT)
    else:
        parallel_for(n, lambda columns: xp.matmul(a, b[:, columns], out=out[:, columns]), m * k * n,
                     MIN_PARALLEL_PRODUCT)
    return out
