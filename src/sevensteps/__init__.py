"""sevensteps: how a neural network learns, in seven steps, on a small readable NumPy autograd.

The engine keeps PyTorch's names: ``sevensteps.tensor``, ``Tensor.backward``, ``no_grad``,
``nn.Linear``, ``optim.SGD``, ``functional.cross_entropy``. Plots and reports (matplotlib) are
imported only by the commands that draw.
"""

from . import functional, nn, optim
from .autograd import enable_grad, is_grad_enabled, no_grad
from .gradcheck import gradcheck
from .random import Generator, manual_seed
from .tensor import (
    Tensor,
    arange,
    cat,
    clamp,
    full,
    matmul,
    maximum,
    ones,
    ones_like,
    rand,
    randn,
    randperm,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

__all__ = [
    "Generator", "Tensor", "arange", "cat", "clamp", "enable_grad", "full", "functional", "gradcheck",
    "is_grad_enabled", "manual_seed", "matmul", "maximum", "nn", "no_grad", "ones", "ones_like", "optim", "rand",
    "randn", "randperm", "stack", "tensor", "where", "zeros", "zeros_like",
]

# ---- the open Learner and its data (appended by the "learner" redesign, issue #11) ----
from .baseline import PixelSimilarity
from .checkpoint import load_learner
from .data import load_source, load_splits
from .data.loader import DataLoader, DataLoaders, TensorDataset, first
from .learner import Learner
from .metrics import accuracy
from .optim import SGD, Adam

__all__ += ["SGD", "Adam", "DataLoader", "DataLoaders", "Learner", "PixelSimilarity", "TensorDataset", "accuracy",
            "first", "load_learner", "load_source", "load_splits"]
