"""Every op, forward and backward, against PyTorch (float64 and float32) and finite differences.

One table drives it all: each row draws shapes with hypothesis (broadcast pairs included), makes input
arrays, and names the same computation in sevensteps and in PyTorch. The table is keyed by Function class by
running it: every Function in the engine (ops.py, conv.py, wherever one is added) must have a row whose
gradient goes through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import sevensteps as ss
import sevensteps.functional as F

SHAPE = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
SHAPE_1D_UP = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
PAIR = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4)


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng, shape):
    """Values with |x| ≥ 0.2, so kinks (abs, relu) are not within a finite-difference step."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)


@dataclass
class Case:
    arrays: list[np.ndarray]
    ours: Callable
    theirs: Callable
    differentiable: tuple[bool, ...] | None = None  # which inputs get requires_grad (default: all)


def unary(ours, theirs, values=normal):
    def make(draw, rng):
        return Case([values(rng, draw(SHAPE))], ours, theirs)
    return make


def binary(ours, theirs, left=normal, right=normal):
    def make(draw, rng):
        shapes = draw(PAIR).input_shapes
        return Case([left(rng, shapes[0]), right(rng, shapes[1])], ours, theirs)
    return make


def with_scalar(ours, theirs, values=normal):
    def make(draw, rng):
        c = draw(st.sampled_from([-1.5, 0.5, 2.0, 3.0]))
        return Case([values(rng, draw(SHAPE))], lambda a: ours(a, c), lambda a: theirs(a, c))
    return make


def reduction(name):
    def make(draw, rng):
        shape = draw(SHAPE)
        keepdim = draw(st.booleans())
        if not shape or draw(st.booleans()):
            return Case([normal(rng, shape)], lambda a: getattr(a, name)(), lambda a: getattr(a, name)())
        dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
        dim = tuple(dims) if len(dims) > 1 else dims[0]
        return Case([normal(rng, shape)], lambda a: getattr(a, name)(dim, keepdim),
                    lambda a: getattr(a, name)(dim, keepdim))
    return make


def max_dim(draw, rng):
    shape = draw(SHAPE_1D_UP)
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = draw(st.booleans())
    return Case([normal(rng, shape)], lambda a: a.max(dim, keepdim).values, lambda a: a.max(dim, keepdim).values)


def matmul(draw, rng):
    kind = draw(st.sampled_from(["2d", "batched", "broadcast", "vec-mat", "mat-vec", "vec-vec"]))
    n, k, m, b = (draw(st.integers(1, 4)) for _ in range(4))
    shapes = {"2d": ((n, k), (k, m)), "batched": ((b, n, k), (b, k, m)), "broadcast": ((b, n, k), (k, m)),
              "vec-mat": ((k,), (k, m)), "mat-vec": ((b, n, k), (k,)), "vec-vec": ((k,), (k,))}[kind]
    return Case([normal(rng, s) for s in shapes], lambda a, c: a @ c, lambda a, c: a @ c)


def reshape(draw, rng):
    shape = draw(SHAPE)
    size = int(np.prod(shape))
    return Case([normal(rng, shape)], lambda a: a.reshape(size, 1).view(-1), lambda a: a.reshape(size, 1).view(-1))


def permute(draw, rng):
    shape = draw(SHAPE_1D_UP)
    dims = tuple(draw(st.permutations(range(len(shape)))))
    return Case([normal(rng, shape)], lambda a: a.permute(*dims), lambda a: a.permute(*dims))


def transpose(draw, rng):
    shape = draw(array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4))
    d0, d1 = draw(st.integers(0, len(shape) - 1)), draw(st.integers(0, len(shape) - 1))
    return Case([normal(rng, shape)], lambda a: a.transpose(d0, d1) * 1.0, lambda a: a.transpose(d0, d1) * 1.0)


def matrix_t(draw, rng):
    shape = draw(array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4))
    return Case([normal(rng, shape)], lambda a: a.T, lambda a: a.T)


def index(draw, rng):
    shape = draw(SHAPE_1D_UP)
    kind = draw(st.sampled_from(["int", "slice", "array", "bool", "tuple"]))
    n = shape[0]
    if kind == "int":
        i = draw(st.integers(-n, n - 1))
        return Case([normal(rng, shape)], lambda a: a[i], lambda a: a[i])
    if kind == "slice":
        start, stop = draw(st.integers(0, n)), draw(st.integers(0, n))
        return Case([normal(rng, shape)], lambda a: a[start:stop:1], lambda a: a[start:stop:1])
    if kind == "array":  # repeats must add up
        idx = rng.integers(0, n, size=draw(st.integers(1, 6)))
        return Case([normal(rng, shape)], lambda a: a[ss.tensor(idx)], lambda a: a[torch.tensor(idx)])
    if kind == "bool":
        mask = rng.random(shape) > 0.5
        return Case([normal(rng, shape)], lambda a: a[ss.tensor(mask)], lambda a: a[torch.tensor(mask)])
    rows = rng.integers(0, n, size=3)
    return Case([normal(rng, shape)], lambda a: a[ss.tensor(rows), ...], lambda a: a[torch.tensor(rows), ...])


def where(draw, rng):
    shapes = draw(mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4)).input_shapes
    cond = rng.random(shapes[0]) > 0.5
    return Case([normal(rng, shapes[1]), normal(rng, shapes[2])],
                lambda a, b: ss.where(ss.tensor(cond), a, b), lambda a, b: torch.where(torch.tensor(cond), a, b))


def clamp(draw, rng):
    low, high = draw(st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.3, None)]))
    return Case([away_from_zero(rng, draw(SHAPE))], lambda a: a.clamp(low, high), lambda a: a.clamp(low, high))


def maximum(draw, rng):
    shapes = draw(PAIR).input_shapes
    a, b = normal(rng, shapes[0]), normal(rng, shapes[1])
    return Case([a, b + 0.1], lambda x, y: ss.maximum(x, y), lambda x, y: torch.maximum(x, y))


def joined(which):
    def make(draw, rng):
        shape = draw(SHAPE_1D_UP)
        count = draw(st.integers(1, 3))
        dim = draw(st.integers(0, len(shape) - 1 if which == "cat" else len(shape)))
        arrays = []
        for _ in range(count):
            s = list(shape)
            if which == "cat":
                s[dim] = draw(st.integers(1, 3))
            arrays.append(normal(rng, tuple(s)))
        ours = (lambda *t: ss.cat(t, dim)) if which == "cat" else (lambda *t: ss.stack(t, dim))
        theirs = (lambda *t: torch.cat(t, dim)) if which == "cat" else (lambda *t: torch.stack(t, dim))
        return Case(arrays, ours, theirs)
    return make


def softmax_like(name):
    def make(draw, rng):
        shape = draw(SHAPE_1D_UP)
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        return Case([normal(rng, shape) * 3], lambda a: getattr(a, name)(dim), lambda a: getattr(a, name)(dim))
    return make


def linear(draw, rng):
    n, i, o = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    bias = draw(st.booleans())
    arrays = [normal(rng, (n, i)), normal(rng, (o, i))] + ([normal(rng, (o,))] if bias else [])
    return Case(arrays, F.linear, torch.nn.functional.linear)


def cross_entropy(draw, rng):
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 5))
    target = rng.integers(0, c, n)
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return Case([normal(rng, (n, c)) * 3],
                lambda x: F.cross_entropy(x, ss.tensor(target), reduction=reduction),
                lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(target), reduction=reduction))


def bce_with_logits(draw, rng):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    if draw(st.booleans()):  # a weight for the positive examples of each class (a constant: PyTorch gives it no grad)
        pos = rng.uniform(0.5, 3.0, (c,))
        return Case([normal(rng, (n, c)) * 3, rng.random((n, c))],
                    lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=ss.tensor(pos, dtype=x.dtype)),
                    lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(
                        x, t, pos_weight=torch.tensor(pos, dtype=x.dtype)))
    return Case([normal(rng, (n, c)) * 3, rng.random((n, c))],
                lambda x, t: F.binary_cross_entropy_with_logits(x, t),
                lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(x, t))


def mse(draw, rng):
    shape = draw(SHAPE)
    return Case([normal(rng, shape), normal(rng, shape)], F.mse_loss, torch.nn.functional.mse_loss)


def torch_mnist_loss(predictions, targets):
    p = predictions.sigmoid()
    return torch.where(targets == 1, 1 - p, p).mean()


def mnist_loss(draw, rng):
    n = draw(st.integers(1, 6))
    target = (rng.random((n, 1)) > 0.5).astype(np.int64)
    return Case([normal(rng, (n, 1)) * 2], lambda x: F.mnist_loss(x, ss.tensor(target)),
                lambda x: torch_mnist_loss(x, torch.tensor(target)))


def expand(draw, rng):
    shape = draw(SHAPE)
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    target = extra + tuple(draw(st.integers(1, 3)) if n == 1 else n for n in shape)
    sizes = extra + tuple(-1 if draw(st.booleans()) else n for n in target[len(extra):])
    return Case([normal(rng, shape)], lambda a: a.expand(sizes) * 1.0, lambda a: a.expand(sizes) * 1.0)


def gather(draw, rng):
    shape = draw(SHAPE_1D_UP)
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(draw(st.integers(1, 4)) if d == dim % len(shape) else draw(st.integers(1, n))
                        for d, n in enumerate(shape))
    index = rng.integers(0, shape[dim], index_shape)
    return Case([normal(rng, shape)], lambda a: a.gather(dim, ss.tensor(index)),
                lambda a: a.gather(dim, torch.tensor(index)))


def setitem(draw, rng):
    """``y[index] = value`` on a tensor in the graph: the overwritten places pass no gradient back to y."""
    shape = draw(SHAPE_1D_UP)
    kind = draw(st.sampled_from(["int", "slice", "mask", "rows"]))
    n = shape[0]
    if kind == "int":
        index = draw(st.integers(-n, n - 1))
    elif kind == "slice":
        index = slice(draw(st.integers(0, n)), draw(st.integers(0, n)))
    elif kind == "mask":
        index = rng.random(shape) > 0.5
    else:
        index = rng.permutation(n)[: draw(st.integers(1, n))]  # distinct rows: no write order to depend on
    value_shape = np.zeros(shape)[index].shape
    if value_shape and draw(st.booleans()):
        value_shape = value_shape[1:]  # the value broadcasts over the selection
    ours_index = ss.tensor(index) if isinstance(index, np.ndarray) else index
    theirs_index = torch.tensor(index) if isinstance(index, np.ndarray) else index

    def ours(a, v):
        y = a * 1.0
        y[ours_index] = v
        return y

    def theirs(a, v):
        y = a * 1.0
        y[theirs_index] = v
        return y

    return Case([normal(rng, shape), normal(rng, value_shape)], ours, theirs)


def cast(draw, rng):
    """float64 → float32 → float64 (or back): gradients flow through each change of dtype."""
    shape = draw(SHAPE)
    return Case([normal(rng, shape)], lambda a: (a.double() * 3).to(a.dtype) * a,
                lambda a: (a.double() * 3).to(a.dtype) * a)


def clamp_tensor(draw, rng):
    shapes = draw(mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4)).input_shapes
    which = draw(st.sampled_from(["both", "min", "max"]))
    # bounds 0.1 apart from each other and from x: no ties for finite differences to straddle
    shape = np.broadcast_shapes(*shapes)  # the bounds broadcast to the input's shape
    x = rng.choice([-1.0, 0.0, 1.0], shape) + rng.uniform(-0.3, 0.3, shape)
    low, high = rng.choice([-0.5, 0.5], shapes[1]), rng.choice([-0.5, 0.5], shapes[2]) + 0.1
    if which == "min":
        return Case([x, low], lambda a, lo: a.clamp(min=lo), lambda a, lo: a.clamp(min=lo))
    if which == "max":
        return Case([x, high], lambda a, hi: a.clamp(max=hi), lambda a, hi: a.clamp(max=hi))
    return Case([x, low, high], lambda a, lo, hi: a.clamp(lo, hi), lambda a, lo, hi: a.clamp(lo, hi))


def pow_at_zero(draw, rng):
    """a⁰ at a = 0 and 0ᵇ: PyTorch's gradients are 0 there (not nan or −inf)."""
    shape = draw(SHAPE)
    a = rng.choice([0.0, 0.0, 1.5], shape)
    if draw(st.booleans()):  # a constant exponent with zeros: only ∂a (finite differences of 0^b blow up at b=0)
        b = rng.choice([0.0, 0.0, 2.0, 3.0], shape)
        scalar = draw(st.sampled_from([None, 0.0, 0]))
        if scalar is not None:
            return Case([a], lambda x: x**scalar, lambda x: x**scalar)
        return Case([a], lambda x: x ** ss.tensor(b, dtype=x.dtype), lambda x: x ** torch.tensor(b, dtype=x.dtype))
    return Case([a, rng.choice([2.0, 3.0], shape)], lambda x, y: x**y, lambda x, y: x**y)


def masked_fill(draw, rng):
    shapes = draw(PAIR).input_shapes
    mask = rng.random(shapes[1]) > 0.5  # the mask broadcasts to the input's shape
    value = draw(st.sampled_from([0.0, -1.5]))
    x = normal(rng, np.broadcast_shapes(*shapes))
    return Case([x], lambda a: a.masked_fill(ss.tensor(mask), value),
                lambda a: a.masked_fill(torch.tensor(mask), value))


def std_var(name):
    def make(draw, rng):
        shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
        dim = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
        keepdim, correction = draw(st.booleans()), draw(st.sampled_from([0, 1]))
        if dim is None:
            return Case([normal(rng, shape)], lambda a: getattr(a, name)(correction=correction),
                        lambda a: getattr(a, name)(correction=correction))
        return Case([normal(rng, shape)], lambda a: getattr(a, name)(dim, keepdim=keepdim, correction=correction),
                    lambda a: getattr(a, name)(dim, keepdim=keepdim, correction=correction))
    return make


def sort_topk(which):
    def make(draw, rng):
        shape = draw(SHAPE_1D_UP)
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        flag = draw(st.booleans())
        if which == "sort":
            return Case([normal(rng, shape)], lambda a: a.sort(dim, descending=flag).values,
                        lambda a: a.sort(dim, descending=flag).values)
        k = draw(st.integers(0, shape[dim]))
        return Case([normal(rng, shape)], lambda a: a.topk(k, dim, largest=flag).values,
                    lambda a: a.topk(k, dim, largest=flag).values)
    return make


def pieces(which):
    def make(draw, rng):
        shape = draw(SHAPE_1D_UP)
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        n = draw(st.integers(1, 4))

        def ours(a):
            parts = a.split(n, dim) if which == "split" else a.chunk(n, dim)
            return ss.cat([p * (i + 1) for i, p in enumerate(parts)], dim)

        def theirs(a):
            parts = a.split(n, dim) if which == "split" else a.chunk(n, dim)
            return torch.cat([p * (i + 1) for i, p in enumerate(parts)], dim)
        return Case([normal(rng, shape)], ours, theirs)
    return make


def repeat(draw, rng):
    shape = draw(SHAPE)
    sizes = tuple(draw(st.integers(1, 3)) for _ in range(max(len(shape), 1) + draw(st.integers(0, 2))))
    return Case([normal(rng, shape)], lambda a: a.repeat(*sizes), lambda a: a.repeat(*sizes))


def minimum(draw, rng):
    shapes = draw(PAIR).input_shapes
    return Case([normal(rng, shapes[0]), normal(rng, shapes[1]) + 0.1], lambda x, y: x.min(y), lambda x, y: x.min(y))


def clone(draw, rng):
    return Case([normal(rng, draw(SHAPE))], lambda a: a.clone() * 3, lambda a: a.clone() * 3)


def in_place(draw, rng):
    """In-place arithmetic on a tensor in the graph is recorded (c += c·b; c *= 2; ...)."""
    shapes = draw(PAIR).input_shapes
    out_shape = np.broadcast_shapes(*shapes)

    def run(a, b, lib):
        c = a * 1.0 + lib.zeros(out_shape, dtype=a.dtype)
        c += c + b
        c *= b
        c *= 2.0
        c -= b
        c /= 1.5
        c.add_(b, alpha=0.5)
        return c
    return Case([normal(rng, shapes[0]), normal(rng, shapes[1])], lambda a, b: run(a, b, ss),
                lambda a, b: run(a, b, torch))


def l1(draw, rng):
    shape = draw(SHAPE)
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return Case([away_from_zero(rng, shape), normal(rng, shape) * 0.1],  # |x − t| stays away from its kink
                lambda a, t: F.l1_loss(a, t, reduction=reduction),
                lambda a, t: torch.nn.functional.l1_loss(a, t, reduction=reduction))


def unsqueeze(draw, rng):
    shape = draw(SHAPE)
    dim = draw(st.integers(-len(shape) - 1, len(shape)))
    return Case([normal(rng, shape)], lambda a: a.unsqueeze(dim) * 1.0, lambda a: a.unsqueeze(dim) * 1.0)


# Images (N, C, H, W): the ops of conv.py, small enough for finite differences.

def images(draw, rng, min_side=1):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(min_side, 5)), draw(st.integers(min_side, 5))
    return normal(rng, (n, c, h, w))


def conv2d(draw, rng):
    x = images(draw, rng, min_side=3)
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    out_channels, stride, padding = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    arrays = [x, normal(rng, (out_channels, x.shape[1], kh, kw))] + ([normal(rng, (out_channels,))]
                                                                      if draw(st.booleans()) else [])
    return Case(arrays, lambda *t: F.conv2d(*t, stride=stride, padding=padding),
                lambda *t: torch.nn.functional.conv2d(*t, stride=stride, padding=padding))


def pool(which):
    def make(draw, rng):
        x = images(draw, rng, min_side=3)
        kernel = draw(st.integers(1, 3))
        stride, padding = draw(st.integers(1, kernel)), draw(st.integers(0, kernel // 2))
        return Case([x], lambda a: getattr(F, which)(a, kernel, stride, padding),
                    lambda a: getattr(torch.nn.functional, which)(a, kernel, stride, padding))
    return make


def adaptive_avg_pool2d(draw, rng):
    x = images(draw, rng)
    size = (draw(st.integers(1, x.shape[2])), draw(st.integers(1, x.shape[3])))
    return Case([x], lambda a: F.adaptive_avg_pool2d(a, size),
                lambda a: torch.nn.functional.adaptive_avg_pool2d(a, size))


def batch_norm(draw, rng):
    """Training (batch statistics) or evaluation (fixed running statistics), with weight and bias."""
    x = images(draw, rng, min_side=2)
    c = x.shape[1]
    mean, var = normal(rng, (c,)), rng.uniform(0.5, 2.0, (c,))
    training = draw(st.booleans())

    def run(lib, functional, a, weight, bias):
        running = (None, None) if training else (lib.tensor(mean, dtype=a.dtype), lib.tensor(var, dtype=a.dtype))
        return functional.batch_norm(a, *running, weight, bias, training=training)
    return Case([x, normal(rng, (c,)), normal(rng, (c,))], lambda *t: run(ss, F, *t),
                lambda *t: run(torch, torch.nn.functional, *t))


def dropout(draw, rng):
    """PyTorch draws its own masks, so its side applies the mask our seeded generator draws, as its dropout would."""
    shape, p, seed = draw(SHAPE), draw(st.sampled_from([0.25, 0.5, 0.9])), draw(st.integers(0, 2**16))

    def ours(a):
        return F.dropout(a, p, generator=ss.Generator(seed))

    def theirs(a):
        ones = ss.ones(*shape, dtype=str(a.dtype).removeprefix("torch."))
        kept = torch.tensor(ours(ones).numpy() != 0)
        return torch.where(kept, a / (1 - p), torch.zeros_like(a))
    return Case([normal(rng, shape)], ours, theirs)


def embedding(draw, rng):
    rows, width, n = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 6))
    idx = rng.integers(0, rows, n)  # repeated rows must add up
    return Case([normal(rng, (rows, width))], lambda w: F.embedding(ss.tensor(idx), w),
                lambda w: torch.nn.functional.embedding(torch.tensor(idx), w))


def layer_norm(draw, rng):
    # over one or two values x̂ is 0 or ±1 whatever x is: its gradient is 0 up to float32 rounding
    shape = draw(array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4)) + (draw(st.integers(3, 6)),)
    last = shape[-1:]
    return Case([normal(rng, shape), normal(rng, last), normal(rng, last)],
                lambda a, w, b: F.layer_norm(a, last, w, b),
                lambda a, w, b: torch.nn.functional.layer_norm(a, last, w, b))


def like_another(draw, rng):
    """expand_as, view_as, type_as: shapes and dtypes taken from another tensor."""
    k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))

    def run(a, b, c):
        return a.expand_as(b).type_as(b) * b + c.view_as(b)
    return Case([normal(rng, (1, k)), normal(rng, (m, k)), normal(rng, (m * k,))], run, run)


def axes_moved(draw, rng):
    """swapaxes, mT and unflatten: views with the axes moved or split."""
    shape = draw(array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4))
    split = draw(st.sampled_from([(1, -1), (-1, 1)]))

    def run(a):
        return a.swapaxes(0, -1).mT.unflatten(-1, split) * 1.0
    return Case([normal(rng, shape)], run, run)


def aliases(draw, rng):
    """concat is cat, clip is clamp, pow is **; and in-place methods sub_, div_, clamp_."""
    shape = draw(SHAPE_1D_UP)

    def run(a, b, lib):
        c = a * 1.0
        c.sub_(b)
        c.div_(2.0)
        c.clamp_(-1.0, 1.0)
        return lib.concat([c, a.clip(-1.0, 1.0), b.abs().pow(1.5)])
    return Case([normal(rng, shape), away_from_zero(rng, shape)], lambda a, b: run(a, b, ss),
                lambda a, b: run(a, b, torch))


OPS: dict[str, Callable] = {
    "add": binary(lambda a, b: a + b, lambda a, b: a + b),
    "sub": binary(lambda a, b: a - b, lambda a, b: a - b),
    "mul": binary(lambda a, b: a * b, lambda a, b: a * b),
    "div": binary(lambda a, b: a / b, lambda a, b: a / b, right=away_from_zero),
    "pow_tensor": binary(lambda a, b: a**b, lambda a, b: a**b, left=positive),
    "add_scalar": with_scalar(lambda a, c: c + a, lambda a, c: c + a),
    "rsub_scalar": with_scalar(lambda a, c: c - a, lambda a, c: c - a),
    "mul_scalar": with_scalar(lambda a, c: a * c, lambda a, c: a * c),
    "rdiv_scalar": with_scalar(lambda a, c: c / a, lambda a, c: c / a, values=away_from_zero),
    "pow_scalar": with_scalar(lambda a, c: a**c, lambda a, c: a**c, values=positive),
    "rpow_scalar": with_scalar(lambda a, c: abs(c) ** a, lambda a, c: abs(c) ** a),
    "neg": unary(lambda a: -a, lambda a: -a),
    "exp": unary(lambda a: a.exp(), lambda a: a.exp()),
    "log": unary(lambda a: a.log(), lambda a: a.log(), values=positive),
    "sqrt": unary(lambda a: a.sqrt(), lambda a: a.sqrt(), values=positive),
    "abs": unary(lambda a: a.abs(), lambda a: a.abs(), values=away_from_zero),
    "sigmoid": unary(lambda a: a.sigmoid(), lambda a: a.sigmoid()),
    "tanh": unary(lambda a: a.tanh(), lambda a: a.tanh()),
    "relu": unary(lambda a: a.relu(), lambda a: a.relu(), values=away_from_zero),
    "matmul": matmul,
    "sum": reduction("sum"),
    "mean": reduction("mean"),
    "max": unary(lambda a: a.max(), lambda a: a.max()),
    "min": unary(lambda a: a.min(), lambda a: a.min()),
    "max_dim": max_dim,
    "reshape_view": reshape,
    "permute": permute,
    "transpose": transpose,
    "T": matrix_t,
    "index": index,
    "where": where,
    "maximum": maximum,
    "clamp": clamp,
    "cat": joined("cat"),
    "stack": joined("stack"),
    "softmax": softmax_like("softmax"),
    "log_softmax": softmax_like("log_softmax"),
    "linear": linear,
    "cross_entropy": cross_entropy,
    "bce_with_logits": bce_with_logits,
    "mse_loss": mse,
    "mnist_loss": mnist_loss,
    "expand": expand,
    "gather": gather,
    "setitem": setitem,
    "cast": cast,
    "clone": clone,
    "clamp_tensor": clamp_tensor,
    "pow_at_zero": pow_at_zero,
    "masked_fill": masked_fill,
    "std": std_var("std"),
    "var": std_var("var"),
    "sort": sort_topk("sort"),
    "topk": sort_topk("topk"),
    "split": pieces("split"),
    "chunk": pieces("chunk"),
    "repeat": repeat,
    "minimum": minimum,
    "in_place": in_place,
    "l1_loss": l1,
    "unsqueeze": unsqueeze,
    "conv2d": conv2d,
    "max_pool2d": pool("max_pool2d"),
    "avg_pool2d": pool("avg_pool2d"),
    "adaptive_avg_pool2d": adaptive_avg_pool2d,
    "batch_norm": batch_norm,
    "dropout": dropout,
    "embedding": embedding,
    "layer_norm": layer_norm,
    "like_another": like_another,
    "axes_moved": axes_moved,
    "aliases": aliases,
}

TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-9), np.float32: dict(rtol=2e-4, atol=2e-5)}


def run_both(case: Case, dtype, rng):
    ours_in = [ss.Tensor(a.astype(dtype), requires_grad=True) for a in case.arrays]
    theirs_in = [torch.tensor(a.astype(dtype), requires_grad=True) for a in case.arrays]
    ours, theirs = case.ours(*ours_in), case.theirs(*theirs_in)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **TOLERANCE[dtype])
    seed = rng.standard_normal(ours.shape).astype(dtype)
    ours.backward(ss.Tensor(seed))
    theirs.backward(torch.tensor(seed))
    for mine, reference in zip(ours_in, theirs_in, strict=True):
        expected = reference.grad.numpy() if reference.grad is not None else np.zeros(mine.shape, dtype)
        assert mine.grad is not None and mine.grad.shape == mine.shape
        assert mine.grad.dtype == dtype
        np.testing.assert_allclose(mine.grad.numpy(), expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_op_matches_pytorch(name, data, seed):
    rng = np.random.default_rng(seed)
    case = OPS[name](data.draw, rng)
    run_both(case, np.float64, rng)
    run_both(case, np.float32, rng)


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=8, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_op_matches_finite_differences(name, data, seed):
    rng = np.random.default_rng(seed)
    case = OPS[name](data.draw, rng)
    inputs = [ss.Tensor(a, requires_grad=True) for a in case.arrays]
    result = ss.gradcheck(case.ours, inputs)
    assert result.max_abs_error < 1e-6, f"{name}: {result}"


def engine_functions() -> set[type]:
    """Every Function subclass sevensteps defines, wherever it lives (ops.py, conv.py, ...): found by walking
    the class tree after ``import sevensteps``, so there is no list to keep. Functions defined by tests are left out."""
    from sevensteps.autograd import Function

    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("sevensteps."):
                found.add(sub)
    return found


def rows_by_function(draw) -> dict[type, list[str]]:
    """The table keyed by Function class: each row run once in float64 and float32 (as the PyTorch test runs it),
    recording whose backward it ran."""
    functions = engine_functions()
    ran: set[type] = set()
    saved = {fn: fn.__dict__.get("backward") for fn in functions}

    def recording(fn, backward):
        def record(ctx, g):
            ran.add(fn)
            return backward(ctx, g)
        return staticmethod(record)

    for fn in functions:
        fn.backward = recording(fn, fn.backward)
    rows: dict[type, list[str]] = {fn: [] for fn in functions}
    try:
        for name in sorted(OPS):
            rng = np.random.default_rng(0)
            case = OPS[name](draw, rng)
            ran.clear()
            for dtype in (np.float64, np.float32):
                out = case.ours(*[ss.tensor(a.astype(dtype), requires_grad=True) for a in case.arrays])
                out.backward(ss.tensor(rng.standard_normal(out.shape).astype(dtype)))
            for fn in ran:
                rows[fn].append(name)
    finally:
        for fn, backward in saved.items():
            if backward is None:
                del fn.backward
            else:
                fn.backward = backward
    return rows


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_function_in_the_engine_has_a_row(data):
    """A new Function anywhere in sevensteps without a row whose gradient goes through it would go unchecked."""
    rows = rows_by_function(data.draw)
    assert len(rows) >= 40  # the walk found the engine (ops.py and conv.py), not just a few classes
    missing = sorted(f"{fn.__module__}.{fn.__name__}" for fn, names in rows.items() if not names)
    assert not missing, f"no row of OPS runs the backward of {missing}"


EMPTY_CASES = {
    "add": (((0,), (2, 0)), lambda a, b: a + b),
    "mul_broadcast": (((0, 3), (3,)), lambda a, b: a * b),
    "div": (((2, 0), (1, 0)), lambda a, b: a / b),
    "matmul_inner_empty": (((2, 0), (0, 3)), lambda a, b: a @ b),
    "matmul_outer_empty": (((0, 4), (4, 3)), lambda a, b: a @ b),
    "exp": (((0, 2),), lambda a: a.exp()),
    "relu": (((3, 0),), lambda a: a.relu()),
    "sum": (((0, 3),), lambda a: a.sum(0)),
    "sum_all": (((2, 0),), lambda a: a.sum()),
    "mean_rows": (((0, 3),), lambda a: a.mean(1)),
    "mean_all": (((0,),), lambda a: a.mean()),
    "var": (((0, 3),), lambda a: a.var(1)),
    "softmax_empty_dim": (((3, 0),), lambda a: a.softmax(-1)),
    "log_softmax": (((0, 4),), lambda a: a.log_softmax(1)),
    "reshape": (((0, 3),), lambda a: a.reshape(3, 0)),
    "permute": (((2, 0, 3),), lambda a: a.permute(2, 0, 1)),
    "expand": (((1, 0),), lambda a: a.expand(4, 0)),
    "cat": (((0, 2), (3, 2)), lambda a, b: _lib(a).cat([a, b])),
    "stack": (((0,), (0,)), lambda a, b: _lib(a).stack([a, b], 1)),
    "clamp": (((0, 2),), lambda a: a.clamp(-0.5, 0.5)),
    "index": (((3, 2),), lambda a: a[3:]),
    "sort": (((2, 0),), lambda a: a.sort(1).values),
    "max_dim": (((0, 3),), lambda a: a.max(1).values),
    "linear": (((0, 4), (2, 4)), lambda x, w: _F(x).linear(x, w)),
    "setitem": (((3, 2), (0, 2)), lambda a, v: _set(a * 1.0, slice(3, None), v)),
}


def _lib(t):
    return torch if isinstance(t, torch.Tensor) else ss


def _F(t):
    return torch.nn.functional if isinstance(t, torch.Tensor) else F


def _set(y, index, value):
    y[index] = value
    return y


@pytest.mark.parametrize("name", sorted(EMPTY_CASES))
def test_ops_on_empty_tensors_match_pytorch(name):
    """Shapes with a zero in them: the same shapes, values (nan for an empty mean) and gradients as PyTorch."""
    shapes, fn = EMPTY_CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours_in = [ss.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours, theirs = fn(*ours_in), fn(*theirs_in)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.float64
    np.testing.assert_allclose(ours.data, theirs.detach().numpy())
    seed = rng.standard_normal(ours.shape)
    ours.backward(ss.tensor(seed))
    theirs.backward(torch.tensor(seed))
    for mine, reference in zip(ours_in, theirs_in, strict=True):
        expected = reference.grad.numpy() if reference.grad is not None else np.zeros(mine.shape)
        np.testing.assert_allclose(mine.grad.data, expected)


def test_max_of_an_empty_tensor_is_an_error_in_both():
    with pytest.raises(RuntimeError):
        torch.zeros(0).max()
    with pytest.raises(RuntimeError, match="empty"):
        ss.zeros(0).max()
