"""Thread settings for one block of a test, put back as they were when the block ends.

``split_over(n)``: ops split all their work, however small, into ``n`` parts on threads. Ops split only big
work (above ``threads.MIN_PARALLEL_SIZE`` elements or ``MIN_PARALLEL_PRODUCT`` multiply-adds), so the tests'
small shapes would never be split; inside the block every shape is.
``threads_restored()``: for code that sets the threads itself (``sevensteps train``'s entry point does).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from sevensteps import threads


@contextmanager
def threads_restored() -> Iterator[None]:
    before = threads.get_num_threads(), threads.MIN_PARALLEL_SIZE, threads.MIN_PARALLEL_PRODUCT
    with threadpool_limits(limits=None):  # puts NumPy's BLAS threads back as the block ends
        try:
            yield
        finally:
            threads.set_num_threads(before[0])
            threads.MIN_PARALLEL_SIZE, threads.MIN_PARALLEL_PRODUCT = before[1:]


@contextmanager
def split_over(n: int) -> Iterator[None]:
    with threads_restored():
        threads.set_num_threads(n)
        threads.MIN_PARALLEL_SIZE = threads.MIN_PARALLEL_PRODUCT = 0
        yield
