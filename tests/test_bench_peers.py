"""bench/peers.py compares like with like: every side trains the same model, and sevensteps is timed without torch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import peers

HIDDEN = 16


def tiny_problem(seed: int = 0):
    """Fashion-MNIST-shaped data and PyTorch-style initial weights, small enough for a test."""
    rng = np.random.default_rng(seed)
    x = rng.random((200, 784), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    weights = {}
    for name, (n_out, n_in) in (("0", (HIDDEN, 784)), ("2", (10, HIDDEN))):
        bound = 1 / np.sqrt(n_in)
        weights[f"{name}.weight"] = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
        weights[f"{name}.bias"] = rng.uniform(-bound, bound, n_out).astype(np.float32)
    order = rng.permutation(len(x))
    batches = [order[i:i + 64] for i in range(0, len(x), 64)]  # the last batch is short (8 images)
    return x, y, weights, batches


@pytest.mark.parametrize("side", ["numpy", "pytorch"])
def test_each_peer_trains_the_same_model_as_sevensteps(side):
    x, y, weights, batches = tiny_problem()
    ours_train, ours_predict = peers.side_sevensteps({k: v.copy() for k, v in weights.items()}, x, y, 0.5)
    peer_train, peer_predict = getattr(peers, f"side_{side}")({k: v.copy() for k, v in weights.items()}, x, y, 0.5)
    before = ours_predict(x)
    ours_train(batches)
    peer_train(batches)
    assert not np.allclose(ours_predict(x), before, atol=1e-3)  # the step moved the weights
    np.testing.assert_allclose(peer_predict(x), ours_predict(x), rtol=1e-4, atol=1e-4)


def test_a_child_process_times_sevensteps_without_torch(tmp_path):
    x, y, weights, _ = tiny_problem()
    np.savez(tmp_path / "data.npz", x=x, y=y, tx=x[:50], ty=y[:50])
    np.savez(tmp_path / "weights.npz", **weights)
    np.save(tmp_path / "orders.npy", np.stack([np.random.default_rng(1).permutation(len(x)) for _ in range(2)]))
    spec = {"side": "sevensteps", "batch_size": 32, "images": len(x), "data": str(tmp_path / "data.npz"),
            "weights": str(tmp_path / "weights.npz"), "orders": str(tmp_path / "orders.npy")}
    result = peers.run_child(spec, threads=1)
    assert result["torch_imported"] is False
    assert result["threads"]["OMP_NUM_THREADS"] == "1"
    assert result["hidden"] == HIDDEN and result["epoch_s"] > 0 and 0 <= result["accuracy"] <= 1
