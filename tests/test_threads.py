"""Ops split over threads (sevensteps.threads): every part runs once, on the pool, errors come back, a forked
child still works, and a model trained with its work split gives PyTorch's numbers and the same numbers again."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from split_threads import split_over, threads_restored
from threadpoolctl import threadpool_info
from torch_twins import close

import sevensteps as ss
import sevensteps.functional as F
from sevensteps import layers, threads


def blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_parallel_for_runs_every_part_once_on_the_pool_and_the_caller():
    seen: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    def body(part: slice) -> None:
        with lock:
            seen.append((part.start, part.stop, threading.current_thread().name))

    with split_over(3):
        threads.parallel_for(10, body, size=1)
    assert sorted((start, stop) for start, stop, _ in seen) == [(0, 3), (3, 6), (6, 10)]
    where = {start: name for start, _, name in seen}
    assert where[0] == threading.current_thread().name  # the caller runs the first part itself
    assert where[3].startswith("sevensteps-op") and where[6].startswith("sevensteps-op")


def test_small_work_and_one_thread_run_inline_as_one_part():
    parts: list[slice] = []
    with threads_restored():
        threads.set_num_threads(2)
        threads.parallel_for(8, parts.append, size=threads.MIN_PARALLEL_SIZE - 1)  # too small to split
    threads.parallel_for(8, parts.append, size=10**9)  # one thread: nothing to split over
    assert parts == [slice(0, 8), slice(0, 8)]


def test_a_part_that_fails_raises_in_the_caller_after_every_part_has_finished():
    finished: list[int] = []

    def body(part: slice) -> None:
        if part.start == 0:
            raise ValueError("the first part failed")
        threading.Event().wait(0.05)
        finished.append(part.start)

    with split_over(3), pytest.raises(ValueError, match="first part failed"):
        threads.parallel_for(3, body, size=1)
    assert sorted(finished) == [1, 2]


def test_work_started_inside_a_part_runs_inline_instead_of_waiting_for_the_pool():
    inner: list[str] = []

    def body(part: slice) -> None:
        threads.parallel_for(4, lambda _: inner.append(threading.current_thread().name), size=1)

    with split_over(2):
        threads.parallel_for(2, body, size=1)
    assert len(inner) == 3  # the caller's part split its inner work in two, the pool's part ran it whole


@pytest.mark.parametrize("a_shape, b_shape", [((7, 5), (5, 3)), ((3, 5), (5, 11)), ((0, 4), (4, 6)),
                                              ((4, 0), (0, 6)), ((64, 289), (289, 3000))])
def test_matmul_in_parts_is_numpys_product(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape, dtype=np.float32), rng.standard_normal(b_shape, dtype=np.float32)
    with split_over(3):
        parts = threads.matmul(a, b)
        again = threads.matmul(a, b)
    np.testing.assert_allclose(parts, a @ b, rtol=1e-5, atol=1e-4)
    assert np.array_equal(parts, again)  # the same parts give the same numbers every time


def test_set_num_threads_checks_its_value_and_gives_numpys_blas_one_thread():
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: expected a whole number >= 1"):
            threads.set_num_threads(bad)
    with split_over(2):
        assert threads.get_num_threads() == 2
        assert blas_threads() == {1}
    assert threads.get_num_threads() == 1


def test_available_cores_follows_the_environment_as_the_blas_does(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.available_cores() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert threads.available_cores() == len(os.sched_getaffinity(0))


def split_in_child(connection) -> None:
    a = np.ones((4, 4), dtype=np.float32)
    connection.send(threads.matmul(a, a).sum())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is Linux's (the sweeps' workers fork)")
def test_a_forked_child_starts_its_own_pool_instead_of_waiting_on_its_parents():
    with split_over(2):
        threads.matmul(np.ones((4, 4)), np.ones((4, 4)))  # the parent's pool now has a thread
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=split_in_child, args=(send,))
        child.start()
        assert receive.poll(30), "the forked child hung"
        assert receive.recv() == 64.0
        child.join(10)
    assert child.exitcode == 0


def train_cnn(batches: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    model = layers.cnn(10, ss.Generator(0), max_shift=2)
    opt = ss.optim.Adam(model.parameters(), lr=1e-3)
    for images, labels in batches:
        loss = F.cross_entropy(model(ss.Tensor(images)), ss.Tensor(labels))
        loss.backward()
        opt.step()
        opt.zero_grad()
    return [p.data.copy() for p in model.parameters()]


def test_a_cnn_trained_in_parts_on_threads_is_seeded_and_matches_one_thread():
    rng = np.random.default_rng(0)
    batches = [(rng.random((16, 784), dtype=np.float32), rng.integers(0, 10, 16)) for _ in range(3)]
    one = train_cnn(batches)
    with split_over(3):
        split, again = train_cnn(batches), train_cnn(batches)
    for a, b, c in zip(one, split, again, strict=True):
        assert np.array_equal(b, c)  # same seed, same threads: the same numbers
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_linear_and_matmul_in_parts_match_torch():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(shape, dtype=np.float32) for shape in [(33, 20), (7, 20), (7,)])
    ours = [ss.Tensor(v, requires_grad=True) for v in (x, w, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    with split_over(3):
        out = F.linear(ours[0], ours[1], ours[2]) @ ss.Tensor(w)
        (out * out).sum().backward()
    out_t = torch.nn.functional.linear(theirs[0], theirs[1], theirs[2]) @ torch.tensor(w)
    (out_t * out_t).sum().backward()
    close(out, out_t, 1e-4)
    for mine, torch_one in zip(ours, theirs, strict=True):
        close(mine.grad, torch_one.grad, 1e-4)


def test_sevensteps_train_splits_a_cnn_over_the_cores_it_is_given_and_leaves_the_mlp_to_numpys_blas(tmp_path):
    code = ("import json, sys; from sevensteps import cli, threads; from threadpoolctl import threadpool_info; "
            "blas = lambda: sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}); "
            "before = blas(); "
            "assert cli.main(['train', '--model', sys.argv[1], '--epochs', '1', '--quiet', '--no-report']) == 0; "
            "print(json.dumps([threads.get_num_threads(), blas(), before]))")
    env = {**os.environ, "OMP_NUM_THREADS": "3"}
    outcome = {}
    for model in ("cnn", "mlp"):
        result = subprocess.run([sys.executable, "-c", code, model], capture_output=True, text=True, env=env,
                                cwd=tmp_path, check=True)
        outcome[model] = json.loads(result.stdout.splitlines()[-1])
    assert outcome["cnn"][:2] == [3, [1]]  # three parts, and NumPy's BLAS on one thread
    threads_after, blas_after, blas_before = outcome["mlp"]
    assert threads_after == 1 and blas_after == blas_before  # the mlp: NumPy's BLAS as it was
