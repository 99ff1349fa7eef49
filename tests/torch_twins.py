"""Helpers shared by the tests that compare sevensteps with PyTorch: values side by side (``close``, ``twins``)
and twin models with identical weights (``twin_mlp``, ``twin_cnn``, the benchmarks' own, from bench/common.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

import sevensteps as ss


def close(ours, theirs, tol=1e-6):
    """Same shape and values, within ``tol``, for a sevensteps result and a PyTorch (or array) one."""
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = ours.data if isinstance(ours, ss.Tensor) else np.asarray(ours)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


def twins(*arrays, requires_grad=True):
    """The same float64 arrays as sevensteps and as PyTorch leaves."""
    ours = [ss.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad) for a in arrays]
    theirs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad) for a in arrays]
    return ours, theirs


sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from common import twin_cnn, twin_mlp  # noqa: E402  (one builder for the tests and the benchmarks)

__all__ = ["close", "twin_cnn", "twin_mlp", "twins"]
