"""sevensteps: how a neural network learns, in seven steps, on a small readable NumPy autograd.

The engine keeps PyTorch's names: ``sevensteps.tensor``, ``Tensor.backward``, ``no_grad``,
``nn.Linear``, ``optim.SGD``, ``nn.functional.cross_entropy``. Plots and reports (matplotlib) are
imported only by the commands that draw.
"""

import builtins as _builtins

from . import autograd, functional, nn, optim
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import xp as _xp

# the open Learner and its data (issue #11)
from .baseline import PixelSimilarity
from .checkpoint import load_learner
from .data import load_source, load_splits
from .data.loader import DataLoader, DataLoaders, TensorDataset, first
from .gradcheck import gradcheck
from .learner import Learner
from .metrics import accuracy
from .optim import SGD, Adam
from .random import Generator, manual_seed
from .tensor import (
    Tensor,
    arange,
    as_tensor,
    cat,
    clamp,
    clip,
    concat,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    matmul,
    maximum,
    minimum,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from .threads import get_num_threads, set_num_threads  # noqa: F401  (torch's names)

__version__ = "0.1.0"

# dtypes by PyTorch's names (NumPy dtypes underneath: ``t.dtype == sevensteps.float32``)
float32 = float = _xp.dtype("float32")
float64 = double = _xp.dtype("float64")
float16 = half = _xp.dtype("float16")
int64 = long = _xp.dtype("int64")
int32 = int = _xp.dtype("int32")
int16 = short = _xp.dtype("int16")
int8 = _xp.dtype("int8")
uint8 = _xp.dtype("uint8")
bool = _xp.dtype("bool")


# ---------------------------------------------------------------- top-level functions, as torch.<name>

def exp(input: Tensor) -> Tensor:
    return input.exp()


def log(input: Tensor) -> Tensor:
    return input.log()


def sqrt(input: Tensor) -> Tensor:
    return input.sqrt()


def abs(input: Tensor) -> Tensor:
    return input.abs()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def relu(input: Tensor) -> Tensor:
    return input.relu()


def softmax(input: Tensor, dim: int) -> Tensor:
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    return input.log_softmax(dim)


def sum(input: Tensor, dim: object = None, keepdim: object = False) -> Tensor:
    return input.sum(dim, keepdim)


def mean(input: Tensor, dim: object = None, keepdim: object = False) -> Tensor:
    return input.mean(dim, keepdim)


def std(input: Tensor, dim: object = None, **kwargs: object) -> Tensor:
    return input.std(dim, **kwargs)


def var(input: Tensor, dim: object = None, **kwargs: object) -> Tensor:
    return input.var(dim, **kwargs)


def max(input: Tensor, dim: object = None, keepdim: object = False) -> object:
    return input.max(dim, keepdim)


def min(input: Tensor, dim: object = None, keepdim: object = False) -> object:
    return input.min(dim, keepdim)


def argmax(input: Tensor, dim: object = None, keepdim: object = False) -> Tensor:
    return input.argmax(dim, keepdim)


def argmin(input: Tensor, dim: object = None, keepdim: object = False) -> Tensor:
    return input.argmin(dim, keepdim)


def all(input: Tensor, dim: object = None) -> Tensor:
    return input.all(dim)


def any(input: Tensor, dim: object = None) -> Tensor:
    return input.any(dim)


def sort(input: Tensor, dim: object = -1, descending: object = False) -> object:
    return input.sort(dim, descending)


def topk(input: Tensor, k: object, dim: object = -1, largest: object = True) -> object:
    return input.topk(k, dim, largest)


def gather(input: Tensor, dim: object, index: Tensor) -> Tensor:
    return input.gather(dim, index)


def split(input: Tensor, split_size: object, dim: object = 0) -> tuple:
    return input.split(split_size, dim)


def chunk(input: Tensor, chunks: object, dim: object = 0) -> tuple:
    return input.chunk(chunks, dim)


def flatten(input: Tensor, start_dim: object = 0, end_dim: object = -1) -> Tensor:
    return input.flatten(start_dim, end_dim)


def reshape(input: Tensor, shape: object) -> Tensor:
    return input.reshape(shape)


def squeeze(input: Tensor, dim: object = None) -> Tensor:
    return input.squeeze(dim)


def unsqueeze(input: Tensor, dim: object) -> Tensor:
    return input.unsqueeze(dim)


def transpose(input: Tensor, dim0: object, dim1: object) -> Tensor:
    return input.transpose(dim0, dim1)


def permute(input: Tensor, dims: object) -> Tensor:
    return input.permute(dims)


def masked_fill(input: Tensor, mask: Tensor, value: object) -> Tensor:
    return input.masked_fill(mask, value)


def eq(input: Tensor, other: object) -> Tensor:
    return input == other


def equal(input: Tensor, other: Tensor) -> object:
    return input.equal(other)


def allclose(input: Tensor, other: Tensor, rtol: object = 1e-5, atol: object = 1e-8,
             equal_nan: object = False) -> object:
    return _builtins.bool(_xp.allclose(input.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def numel(input: Tensor) -> object:
    return input.numel()


def is_tensor(obj: object) -> object:
    return isinstance(obj, Tensor)


__all__ = [
    "Generator", "Tensor", "abs", "all", "allclose", "any", "arange", "argmax", "argmin", "as_tensor", "autograd",
    "bool", "cat", "chunk", "clamp", "clip", "concat", "double", "empty", "enable_grad", "eq", "equal", "exp", "eye",
    "flatten", "float", "float16", "float32", "float64", "from_numpy", "full", "full_like", "functional", "gather",
    "gradcheck", "half", "inference_mode", "int", "int8", "int16", "int32", "int64", "is_grad_enabled", "is_tensor",
    "linspace", "log", "log_softmax", "long", "manual_seed", "masked_fill", "matmul", "max", "maximum", "mean", "min",
    "minimum", "nn", "no_grad", "numel", "ones", "ones_like", "optim", "permute", "rand", "randint", "randn",
    "randperm", "relu", "reshape", "set_grad_enabled", "short", "sigmoid", "softmax", "sort", "split", "sqrt",
    "squeeze", "stack", "std", "sum", "tanh", "tensor", "topk", "transpose", "uint8", "unsqueeze", "var", "where",
    "zeros", "zeros_like",
]

__all__ += ["SGD", "Adam", "DataLoader", "DataLoaders", "Learner", "PixelSimilarity", "TensorDataset", "accuracy",
            "first", "load_learner", "load_source", "load_splits"]

# ``from sevensteps import *`` must not replace Python's own all, any, max, min, sum, abs, int, float and bool: a
# star-import in a notebook would break every later ``all(x > 0 for x in xs)``. They stay reachable as
# ``sevensteps.max`` and so on, like ``torch.max``.
__all__ = [name for name in __all__ if not hasattr(_builtins, name)]
