"""The Tensor: an array that remembers how it was made, so that gradients can flow back through it.

A tensor wraps an array (``.data``). If ``requires_grad`` is set, ops on it record a graph, and
``backward()`` fills ``.grad`` of every leaf tensor with d(output)/d(leaf). Names and semantics follow
PyTorch: a reader who knows ``torch.Tensor`` knows this one.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import autograd, ops
from .autograd import backward as _backward
from .autograd import is_grad_enabled, no_grad
from .backend import as_dtype, is_floating, xp
from .random import Generator, get_generator

MaxResult = namedtuple("MaxResult", ["values", "indices"])


class Tensor:
    """An n-dimensional array with an optional gradient.

    ``Tensor(array)`` wraps an array as it is (no copy, its dtype kept); ``Tensor([1, 2])`` makes float32
    from Python data, as ``torch.Tensor`` does. Use :func:`tensor` to convert data with PyTorch's dtype
    rules.
    """

    __slots__ = ("__weakref__", "_base", "_ctx", "_retains_grad", "_version", "data", "grad", "requires_grad")

    def __init__(self, data: Any, requires_grad: bool = False):
        if type(data) is not xp.ndarray:  # the common case, an array from an op, skips these checks
            if isinstance(data, Tensor):
                data = data.data
            elif isinstance(data, (list, tuple)):
                data = xp.asarray(_plain_data(data), dtype=xp.float32)
            elif not isinstance(data, xp.ndarray):
                data = xp.asarray(data)
        self.data = data
        self.grad: Tensor | None = None
        self._ctx = None
        self._retains_grad = False
        self._version = [0]  # shared with views (see the autograd package: why a version counter)
        self._base = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ basics

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        """Always ``"cpu"``: the arrays live in main memory."""
        return "cpu"

    @property
    def is_cuda(self) -> bool:
        return False

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> Any:
        return self.data.shape if dim is None else self.data.shape[ops.check_dim(dim, self.ndim)]

    def numel(self) -> int:
        return int(self.data.size)

    def element_size(self) -> int:
        return int(self.data.itemsize)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def numpy(self) -> Any:
        """The underlying array (shared, not copied), as ``torch.Tensor.numpy``."""
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        from .printing import tensor_repr

        return tensor_repr(self)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                               "use .any() or .all()")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.data)

    def __hash__(self) -> int:
        return id(self)

    # ------------------------------------------------------------ autograd

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        return self._ctx

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not is_floating(self.data.dtype):
            raise RuntimeError(f"only floating-point tensors can require gradients, not {self.data.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad can only be switched off on a leaf tensor; use detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor too after backward."""
        self._retains_grad = True
        if self._ctx is not None:
            self._ctx.retains_grad_of = self

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad and self._ctx is not None

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate: add d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        _backward(self, gradient, retain_graph)

    def detach(self) -> Tensor:
        """The same data (shared memory and version counter), cut from the graph."""
        out = Tensor(self.data)
        out._version = self._version
        out._base = self if self._base is None else self._base
        return out

    def detach_(self) -> Tensor:
        self._ctx = None
        self.requires_grad = False
        return self

    def clone(self) -> Tensor:
        """A copy with its own memory; gradients flow back through it."""
        return ops.Clone.apply(self)

    def contiguous(self) -> Tensor:
        return self if self.data.flags.c_contiguous else self.clone()

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    # ------------------------------------------------------------ in-place changes
    #
    # PyTorch's rules. Outside a recorded graph (no_grad, or nothing involved requires grad) the array is
    # changed directly. While recording, a leaf that requires grad may not be changed (its .grad would
    # describe a value it no longer has); any other tensor gets a new node in the graph: its old value
    # (a snapshot) goes in, its new value comes out. Every change adds one to the version counter.

    def _in_place(self, make: Callable[[Tensor], Tensor], other: Any = None, ufunc: Any = None) -> Tensor:
        if is_grad_enabled() and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            self._check_in_place_while_recording()
            old = Tensor(self.data.copy())  # the value the graph saw, safe from the change below
            old.requires_grad, old._ctx = self.requires_grad, self._ctx
            new = make(old)
            self._write(new.data)
            self.requires_grad, self._ctx = True, new._ctx
            self._ctx.versions = tuple((self._version, self._version[0]) if box is new._version else (box, v)
                                       for box, v in self._ctx.versions)
            if self._retains_grad:
                self._ctx.retains_grad_of = self
            return self
        if ufunc is not None:
            other = other.data if isinstance(other, Tensor) else other
            try:
                ufunc(self.data, other, out=self.data, casting="same_kind")
            except (TypeError, ValueError) as error:
                raise _in_place_error(self, other, error) from None
        else:
            with no_grad():
                self._write(make(self).data)
        self._version[0] += 1
        return self

    def _check_in_place_while_recording(self) -> None:
        if self._ctx is None and self.requires_grad:
            raise RuntimeError("a leaf tensor that requires grad cannot be changed in place while a graph is "
                               "recorded: change it inside no_grad() (as an optimizer step does), or change .data")
        base = self._base
        if base is not None:
            if base._ctx is None and base.requires_grad:
                raise RuntimeError("a view of a leaf tensor that requires grad cannot be changed in place while "
                                   "a graph is recorded: change it inside no_grad()")
            raise RuntimeError("changing a view of a tensor in place while recording a graph is not supported "
                               "by sevensteps (PyTorch rewrites the base's graph): change the base tensor by "
                               "indexing it, or clone() the view first")

    def _write(self, array: Any) -> None:
        """Put ``array`` into this tensor's memory (views of it see the change)."""
        try:
            xp.copyto(self.data, array, casting="same_kind")
        except (TypeError, ValueError) as error:
            raise _in_place_error(self, array, error) from None
        self._version[0] += 1

    def __iadd__(self, other: Any) -> Tensor:
        return self._in_place(lambda old: old + other, other, xp.add)

    def __isub__(self, other: Any) -> Tensor:
        return self._in_place(lambda old: old - other, other, xp.subtract)

    def __imul__(self, other: Any) -> Tensor:
        return self._in_place(lambda old: old * other, other, xp.multiply)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._in_place(lambda old: old / other, other, xp.true_divide)

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        other = other if alpha == 1 else other * alpha
        return self._in_place(lambda old: old + other, other, xp.add)

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        other = other if alpha == 1 else other * alpha
        return self._in_place(lambda old: old - other, other, xp.subtract)

    def mul_(self, other: Any) -> Tensor:
        return self._in_place(lambda old: old * other, other, xp.multiply)

    def div_(self, other: Any) -> Tensor:
        return self._in_place(lambda old: old / other, other, xp.true_divide)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        bounds = min if isinstance(min, Tensor) else max
        return self._in_place(lambda old: old.clamp(min, max), bounds)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        return self._in_place(lambda old: where(True, value, old), value)

    def copy_(self, source: Tensor | Any) -> Tensor:
        return self._in_place(lambda old: where(True, source, old), source)

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
        """Fill with samples of N(mean, std²)."""
        sample = get_generator(generator).normal(self.shape, self.dtype) * std + mean
        return self._in_place(lambda old: where(True, sample.astype(self.dtype, copy=False), old))

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
        """Fill with samples of the uniform distribution on [a, b)."""
        return self._in_place(lambda old: where(True, get_generator(generator).uniform(a, b, self.shape, self.dtype),
                                                old))

    def __setitem__(self, index: Any, value: Any) -> None:
        index = _plain_index(index)
        if is_grad_enabled() and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            self._in_place(lambda old: ops.SetItem.apply(old, index, value), value)
            return
        try:  # nothing to record: write just the selected places
            self.data[index] = value.data if isinstance(value, Tensor) else value
        except ValueError as error:
            raise _in_place_error(self, value, error) from None
        self._version[0] += 1

    # ------------------------------------------------------------ dtype and device

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to("cpu")``, ``to(other_tensor)`` or ``to(device=..., dtype=...)``; gradients flow
        through a change between floating dtypes, as in PyTorch."""
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        device = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps"):
                device = arg
            else:
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"sevensteps computes on the CPU only; device {device!r} is not available")
        if dtype is None:
            return self
        dtype = as_dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if is_floating(dtype):
            return ops.Cast.apply(self, dtype)
        return Tensor(self.data.astype(dtype))

    def type(self, dtype: Any = None) -> Any:
        return str(self.dtype) if dtype is None else self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        raise RuntimeError("sevensteps computes on the CPU only: there is no cuda()")

    def float(self) -> Tensor:
        return self.to(xp.float32)

    def double(self) -> Tensor:
        return self.to(xp.float64)

    def long(self) -> Tensor:
        return self.to(xp.int64)

    def int(self) -> Tensor:
        return self.to(xp.int32)

    def bool(self) -> Tensor:
        return self.to(bool)

    def is_floating_point(self) -> bool:
        return is_floating(self.data.dtype)

    # ------------------------------------------------------------ arithmetic

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def add(self, other: Any, alpha: float = 1) -> Tensor:
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other: Any, alpha: float = 1) -> Tensor:
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any) -> Tensor:
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def neg(self) -> Tensor:
        return -self

    # Comparisons give boolean tensors: masks and predictions, never differentiated.
    def _compare(self, other: Any, op: Any) -> Tensor:
        a, b = ops.promote(self.data, other.data if isinstance(other, Tensor) else other)
        return Tensor(op(a, b))

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, xp.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, xp.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, xp.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, xp.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, xp.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, xp.not_equal)

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    def equal(self, other: Tensor) -> bool:
        """True if both have the same shape and elements."""
        return self.shape == other.shape and bool(xp.array_equal(self.data, other.data))

    def __invert__(self) -> Tensor:
        return Tensor(~self.data)

    def __and__(self, other: Any) -> Tensor:
        return self._compare(other, xp.bitwise_and)

    def __or__(self, other: Any) -> Tensor:
        return self._compare(other, xp.bitwise_or)

    def logical_not(self) -> Tensor:
        return Tensor(xp.logical_not(self.data))

    # ------------------------------------------------------------ elementwise functions

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def square(self) -> Tensor:
        return self * self

    def maximum(self, other: Any) -> Tensor:
        return ops.Maximum.apply(self, other)

    def minimum(self, other: Any) -> Tensor:
        """min(a, b) = −max(−a, −b): ties split the gradient in half, as in PyTorch."""
        return -ops.Maximum.apply(-self, -other)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        if min is None and max is None:
            raise RuntimeError("clamp() needs at least one of min and max")
        return ops.Clamp.apply(self, min, max)

    clip = clamp

    def masked_fill(self, mask: Tensor | Any, value: Any) -> Tensor:
        """``value`` where ``mask`` is true, this tensor elsewhere."""
        mask = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
        if mask.dtype != bool:
            raise RuntimeError(f"masked_fill() needs a bool mask, not {mask.dtype}")
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError("masked_fill() takes a number or a 0-d tensor as the value")
        value = value.to(self.dtype) if isinstance(value, Tensor) else xp.asarray(value, dtype=self.dtype)
        return ops.Where.apply(mask, value, self)

    def softmax(self, dim: int) -> Tensor:
        return ops.Softmax.apply(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return ops.LogSoftmax.apply(self, dim)

    # ------------------------------------------------------------ reductions

    def sum(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return ops.Sum.apply(self, dim, keepdim)

    def mean(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return ops.Mean.apply(self, dim, keepdim)

    def var(self, dim: int | tuple[int, ...] | None = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        """Σ (x − mean)² / (n − correction); ``correction`` 1 (Bessel's, the default) or 0."""
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        centred = self - self.mean(dim, keepdim=True)
        axes = ops._axes(dim, self.ndim)
        count = 1
        for axis in axes:
            count *= self.shape[axis]
        return (centred * centred).sum(dim, keepdim) / max(count - correction, 0)

    def std(self, dim: int | tuple[int, ...] | None = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None) -> Tensor:
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """Largest element; with ``dim``, a ``(values, indices)`` pair; with a tensor, the elementwise max."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return ops.Max.apply(self)
        values = ops.MaxDim.apply(self, dim, keepdim)
        return MaxResult(values, self.argmax(dim, keepdim))

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """Smallest element; with ``dim``, a ``(values, indices)`` pair (min a = −max(−a))."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return -ops.Max.apply(-self)
        return MaxResult(-ops.MaxDim.apply(-self, dim, keepdim), self.argmin(dim, keepdim))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        if dim is None:
            return Tensor(xp.asarray(xp.argmax(self.data), dtype=xp.int64))
        if self.ndim == 0:
            ops.check_dim(dim, 0)
            return Tensor(xp.zeros((), dtype=xp.int64))
        return Tensor(xp.argmax(self.data, axis=ops.check_dim(dim, self.ndim), keepdims=keepdim).astype(xp.int64))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        if dim is None:
            return Tensor(xp.asarray(xp.argmin(self.data), dtype=xp.int64))
        if self.ndim == 0:
            ops.check_dim(dim, 0)
            return Tensor(xp.zeros((), dtype=xp.int64))
        return Tensor(xp.argmin(self.data, axis=ops.check_dim(dim, self.ndim), keepdims=keepdim).astype(xp.int64))

    def all(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        axis = None if dim is None else ops.check_dim(dim, self.ndim)
        return Tensor(xp.all(self.data, axis=axis, keepdims=keepdim))

    def any(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        axis = None if dim is None else ops.check_dim(dim, self.ndim)
        return Tensor(xp.any(self.data, axis=axis, keepdims=keepdim))

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        """(values, indices) sorted along ``dim``; equal values keep their order. Gradients reach the values."""
        dim = ops.check_dim(dim, self.ndim)
        if self.ndim == 0:
            return SortResult(self * 1, Tensor(xp.zeros((), dtype=xp.int64)))
        order = xp.argsort(-self.data if descending else self.data, axis=dim, kind="stable").astype(xp.int64)
        return SortResult(ops.Gather.apply(self, dim, order), Tensor(order))

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """The ``k`` largest (or smallest) values along ``dim`` and their indices."""
        dim = ops.check_dim(dim, self.ndim)
        size = self.shape[dim] if self.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError(f"topk(): k = {k} is out of range for dimension {dim} of size {size}")
        values, indices = self.sort(dim, descending=largest)
        if self.ndim == 0:
            return SortResult(values, indices)
        index = tuple([slice(None)] * dim + [slice(0, k)])
        return SortResult(values[index], indices[index])

    # ------------------------------------------------------------ shapes

    def reshape(self, *shape: Any) -> Tensor:
        return ops.Reshape.apply(self, _shape(shape))

    view = reshape

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            ops.check_dim(start_dim, 0)
            ops.check_dim(end_dim, 0)
            return self.reshape(1)
        start, end = ops.check_dim(start_dim, self.ndim), ops.check_dim(end_dim, self.ndim)
        if start > end:
            raise RuntimeError(f"flatten() has invalid args: start_dim {start_dim} comes after end_dim {end_dim}")
        size = 1
        for n in self.shape[start:end + 1]:
            size *= n
        return self.reshape(self.shape[:start] + (size,) + self.shape[end + 1:])

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        dim = ops.check_dim(dim, self.ndim)
        return self.reshape(self.shape[:dim] + tuple(sizes) + self.shape[dim + 1:])

    def unsqueeze(self, dim: int) -> Tensor:
        dim = ops.check_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | Sequence[int] | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = {ops.check_dim(d, self.ndim) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
        if self.ndim == 0:
            return self.reshape(())
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def permute(self, *dims: Any) -> Tensor:
        return ops.Permute.apply(self, _shape(dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        if self.ndim == 0:
            ops.check_dim(dim0, 0)
            ops.check_dim(dim1, 0)
            return self.reshape(())
        dims = list(range(self.ndim))
        d0, d1 = ops.check_dim(dim0, self.ndim), ops.check_dim(dim1, self.ndim)
        dims[d0], dims[d1] = dims[d1], dims[d0]
        return ops.Permute.apply(self, tuple(dims))

    swapaxes = transpose

    @property
    def T(self) -> Tensor:
        return ops.Permute.apply(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with at most 2 dimensions, this one has {self.ndim}")
        return self.T

    def expand(self, *sizes: Any) -> Tensor:
        """A read-only view with dimensions of size 1 stretched to ``sizes`` (−1 keeps a size)."""
        return ops.Expand.apply(self, _shape(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def repeat(self, *sizes: Any) -> Tensor:
        """The tensor tiled ``sizes[i]`` times along each dimension (leading dimensions added as needed)."""
        sizes = _shape(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(f"repeat{sizes}: give at least one count per dimension of shape {self.shape}")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        interleaved: list[int] = []
        for n in shape:
            interleaved += [1, n]
        tiled = [s for count, n in zip(sizes, shape, strict=True) for s in (count, n)]
        return self.reshape(tuple(interleaved)).expand(tuple(tiled)).reshape(
            tuple(count * n for count, n in zip(sizes, shape, strict=True)))

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """out[i][j] = self[i][index[i][j]] for ``dim`` 1 (and likewise for any dim)."""
        return ops.Gather.apply(self, dim, index.data if isinstance(index, Tensor) else xp.asarray(index))

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes."""
        dim = ops.check_dim(dim, self.ndim)
        size = self.shape[dim]
        if isinstance(split_size, int):
            if split_size <= 0:
                raise RuntimeError(f"split(): split_size must be positive, got {split_size}")
            sizes = [min(split_size, size - start) for start in range(0, size, split_size)] or [0]
        else:
            sizes = list(split_size)
            if sum(sizes) != size:
                raise RuntimeError(f"split(): sizes {sizes} do not add up to {size}, the size of dim {dim}")
        pieces, start = [], 0
        for n in sizes:
            pieces.append(self[(slice(None),) * dim + (slice(start, start + n),)])
            start += n
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """At most ``chunks`` pieces of equal size (the last may be smaller), as ``torch.chunk``."""
        if chunks <= 0:
            raise RuntimeError(f"chunk(): chunks must be positive, got {chunks}")
        size = self.shape[ops.check_dim(dim, self.ndim)]
        return self.split(max(-(-size // chunks), 1), dim)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.Index.apply(self, _plain_index(index))


SortResult = namedtuple("SortResult", ["values", "indices"])


def _in_place_error(target: Tensor, other: Any, error: Exception) -> RuntimeError:
    other_dtype = getattr(other, "dtype", type(other).__name__)
    other_shape = getattr(other, "shape", ())
    if isinstance(error, TypeError) or "cast" in str(error):
        return RuntimeError(f"an in-place change cannot store a result of dtype {other_dtype} in a tensor of dtype "
                            f"{target.dtype}")
    if "read-only" in str(error):
        return RuntimeError("this tensor is a read-only view (from expand()): clone() it before changing it in place")
    return RuntimeError(f"an in-place change cannot store a result of shape {tuple(other_shape)} in a tensor of shape "
                        f"{target.shape}")


def _plain_data(data: Any) -> Any:
    """Nested lists/tuples with every tensor replaced by its array."""
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, (list, tuple)):
        return [_plain_data(d) for d in data]
    return data


def _plain_index(index: Any) -> Any:
    """An index with every tensor in it replaced by its array."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return xp.asarray(_plain_data(index))
    return index


# ---------------------------------------------------------------- creation helpers


def _infer_dtype(data: Any, array: Any) -> Any:
    """PyTorch's dtype for new data: an array keeps its dtype; Python floats become float32."""
    if isinstance(data, xp.ndarray) or isinstance(data, xp.generic):
        return array.dtype
    if is_floating(array.dtype):
        return xp.dtype(xp.float32)
    return array.dtype


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor from Python data or an array (always copied), with PyTorch's dtypes: Python floats
    become float32, integers int64, booleans bool; a NumPy array or a tensor keeps its dtype."""
    _check_device(device)
    if isinstance(data, Tensor):
        data = data.data
    elif isinstance(data, (list, tuple)):
        data = _plain_data(data)
    array = xp.asarray(data)
    array = xp.array(array, dtype=as_dtype(dtype) if dtype is not None else _infer_dtype(data, array), copy=True)
    return Tensor(array, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor`, but shares memory with an array (or returns the tensor) when no conversion is needed."""
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, xp.ndarray) and (dtype is None or as_dtype(dtype) == data.dtype):
        return Tensor(data)
    return tensor(data, dtype=dtype)


def from_numpy(array: Any) -> Tensor:
    """A tensor sharing memory with a NumPy array (changes show in both)."""
    if not isinstance(array, xp.ndarray):
        raise TypeError(f"from_numpy() expects a NumPy array, got {type(array).__name__}")
    return Tensor(array)


def _check_device(device: Any) -> None:
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"sevensteps computes on the CPU only; device {device!r} is not available")


def _shape(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _filled(fill: Callable, size: Sequence[Any], dtype: Any, requires_grad: bool, device: Any = None) -> Tensor:
    _check_device(device)
    return Tensor(fill(_shape(size), dtype=as_dtype(dtype or xp.float32)), requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(xp.zeros, size, dtype, requires_grad, device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(xp.ones, size, dtype, requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uninitialised in PyTorch; zeros here (NumPy's empty would show leftover memory to learners)."""
    return _filled(xp.zeros, size, dtype, requires_grad, device)


def full(size: Sequence[int], fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with one value; its dtype follows the value (float32, int64 or bool)."""
    _check_device(device)
    if dtype is None:
        dtype = fill_value.dtype if isinstance(fill_value, Tensor) else ops.result_type(fill_value)
    value = fill_value.data if isinstance(fill_value, Tensor) else fill_value
    array = xp.full(tuple(size) if isinstance(size, (tuple, list)) else (size,), value, dtype=as_dtype(dtype))
    return Tensor(array, requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.zeros_like(t.data, dtype=dtype and as_dtype(dtype)), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.ones_like(t.data, dtype=dtype and as_dtype(dtype)), requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The n×m identity matrix (ones on the diagonal)."""
    return Tensor(xp.eye(n, m, dtype=as_dtype(dtype or xp.float32)), requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if steps < 0:
        raise RuntimeError(f"linspace(): steps must be non-negative, got {steps}")
    array = xp.linspace(start, end, steps).astype(as_dtype(dtype or xp.float32))
    return Tensor(array, requires_grad=requires_grad)


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Samples of the standard normal distribution N(0, 1)."""
    array = get_generator(generator).normal(_shape(size), as_dtype(dtype or xp.float32))
    return Tensor(array, requires_grad=requires_grad)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Samples of the uniform distribution on [0, 1)."""
    array = get_generator(generator).uniform(0.0, 1.0, _shape(size), as_dtype(dtype or xp.float32))
    return Tensor(array, requires_grad=requires_grad)


def randint(low: int, high: int | None = None, size: Sequence[int] = (), generator: Generator | None = None,
            dtype: Any = None) -> Tensor:
    """Random integers in [low, high) (``randint(high, size)`` starts at 0), int64 by default."""
    if high is None or not isinstance(high, int):
        if high is not None:
            size = high
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"randint(): empty range [{low}, {high})")
    array = get_generator(generator).integers(low, high, tuple(size))
    return Tensor(array.astype(as_dtype(dtype or xp.int64)))


def randperm(n: int, generator: Generator | None = None) -> Tensor:
    return Tensor(get_generator(generator).permutation(n).astype(xp.int64))


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end); int64 unless a bound or step is a float (then float32)."""
    if end is None:
        start, end = 0, start
    array = xp.arange(start, end, step)
    if dtype is None:
        dtype = xp.float32 if is_floating(array.dtype) else xp.int64
    return Tensor(array.astype(as_dtype(dtype), copy=False), requires_grad=requires_grad)


# ---------------------------------------------------------------- functions of several tensors


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    return ops.Cat.apply(*tensors, dim=dim)


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    return ops.Stack.apply(*tensors, dim=dim)


def where(condition: Tensor | Any, input: Any = None, other: Any = None) -> Any:
    """``input`` where ``condition`` holds, else ``other``; ``where(condition)`` alone gives the indices."""
    cond = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor(i.astype(xp.int64)) for i in xp.nonzero(cond))
    if cond.dtype != bool:
        raise RuntimeError(f"where() expects a bool condition, got {cond.dtype}")
    return ops.Where.apply(cond, input, other)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    return ops.Maximum.apply(input, other)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    return input.minimum(other)


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    return input.clamp(min, max)


clip = clamp


def matmul(input: Tensor, other: Tensor) -> Tensor:
    return ops.MatMul.apply(input, other)


autograd.connect(Tensor)  # see autograd.connect

__all__ = [
    "MaxResult", "SortResult", "Tensor", "arange", "as_tensor", "cat", "clamp", "clip", "concat", "empty", "eye",
    "from_numpy", "full", "full_like", "linspace", "matmul", "maximum", "minimum", "no_grad", "ones", "ones_like",
    "rand", "randint", "randn", "randperm", "stack", "tensor", "where", "zeros", "zeros_like",
]
