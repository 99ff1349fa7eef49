"""``split_over(n)``: ops split all their work, however small, into ``n`` parts on threads, for one block of a test.

Ops split only big work (above ``threads.MIN_PARALLEL_SIZE`` elements or ``MIN_PARALLEL_PRODUCT``
multiply-adds), so that the tests' small shapes would never be split; inside the block every shape is. On
leaving, the thread count, the thresholds and NumPy's BLAS threads are what they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from sevensteps import threads


@contextmanager
def split_over(n: int) -> Iterator[None]:
    before = threads.get_num_threads(), threads.MIN_PARALLEL_SIZE, threads.MIN_PARALLEL_PRODUCT
    with threadpool_limits(limits=None):  # puts the BLAS's limits back as the block ends
        threads.set_num_threads(n)
        threads.MIN_PARALLEL_SIZE = threads.MIN_PARALLEL_PRODUCT = 0
        try:
            yield
        finally:
            threads.set_num_threads(before[0])
            threads.MIN_PARALLEL_SIZE, threads.MIN_PARALLEL_PRODUCT = before[1:]
