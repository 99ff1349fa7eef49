"""Nudging vs calculus, live: the current batch's gradient by finite differences and by backprop, timed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..backend import xp
from ..tensor import Tensor
from .settings import LabError

MAX_ALL_WEIGHTS = 30_000  # beyond this, nudging every weight one by one takes minutes
SHOWN = 12


def batch_loss(model: str, loss_func: Callable[..., Tensor], x: Tensor, y: Tensor) -> Callable[..., Tensor]:
    """The batch's loss as a function of the weights, written out for the built-in linear and mlp models."""
    from .. import functional as F

    def loss_of(*params: Tensor) -> Tensor:
        if model == "linear":
            return loss_func(F.linear(x, params[0], params[1]), y)
        return loss_func(F.linear(F.relu(F.linear(x, params[0], params[1])), params[2], params[3]), y)

    return loss_of


def weight_name(names: Any, arrays: Any, flat: int) -> str:
    """``1.weight[0, 301]`` for a position in all the weights laid end to end."""
    for name, array in zip(names, arrays, strict=True):
        if flat < array.size:
            position = xp.unravel_index(flat, array.shape)
            return f"{name}[{', '.join(str(int(p)) for p in position)}]"
        flat -= array.size
    return "?"


def compare(model: str, loss_func: Callable[..., Tensor], weights: dict[str, Any], xb: Any, yb: Any,
            which: str) -> dict[str, Any]:
    """Both gradients of the loss on (xb, yb) in float64: of every weight (``all``, by the library's gradcheck)
    or of the 12 with the largest gradient (``chosen``); rows of the largest, and the time each way took."""
    from ..gradcheck import gradcheck

    if which not in ("chosen", "all"):
        raise LabError(f"weights {which!r}: choose 'chosen' (a few) or 'all'")
    x, y = Tensor(xp.asarray(xb, dtype=xp.float64)), Tensor(yb)
    names, arrays = zip(*weights.items(), strict=True)
    count = sum(a.size for a in arrays)
    if model not in ("linear", "mlp"):  # any other built-in model: through the module itself
        if which == "all" and count > MAX_ALL_WEIGHTS:
            raise LabError(f"'all' would nudge {count:,} weights one by one; choose 'chosen' for this model")
        return _nudge_module(model, loss_func, weights, x, y)
    loss_of = batch_loss(model, loss_func, x, y)
    if which == "chosen":
        return _nudge_chosen(loss_of, names, arrays, len(xb))
    if count > MAX_ALL_WEIGHTS:
        raise LabError(f"'all' would nudge {count:,} weights one by one; choose 'chosen' for this model")
    result = gradcheck(loss_of, [Tensor(xp.array(a, dtype=xp.float64), requires_grad=True) for a in arrays])
    numeric = xp.concatenate([g.ravel() for g in result.numeric])
    backprop = xp.concatenate([g.ravel() for g in result.backprop])
    pick = xp.argsort(-xp.abs(backprop))[:SHOWN]
    return {"weights": count, "batch": len(xb), "numeric_seconds": result.numeric_seconds,
            "backprop_seconds": result.backprop_seconds, "max_abs_diff": result.max_abs_error,
            "rows": [{"weight": weight_name(names, arrays, int(i)), "nudging": float(numeric[i]),
                      "backprop": float(backprop[i])} for i in pick]}


def _nudge_module(model: str, loss_func: Callable[..., Tensor], weights: dict[str, Any], x: Tensor,
                  y: Tensor) -> dict[str, Any]:
    """Nudging vs calculus for a built-in model as a module (the cnn): its own parameters, in float64 and
    in eval mode (no random shifts or dropout, so the loss is one function of the weights), are nudged."""
    from ..models import make_model

    n_outputs = next(reversed(weights.values())).shape[0]
    module = make_model(model, n_outputs)
    module.load_state_dict(weights)
    module.double()
    module.eval()
    names, params = zip(*module.named_parameters(), strict=True)
    return _nudge_chosen(lambda *_: loss_func(module(x), y), names, [p.data for p in params], len(x),
                         params=list(params))


def _nudge_chosen(loss_of: Callable[..., Tensor], names: Any, arrays: Any, batch: int,
                  eps: float = 1e-6, params: list[Tensor] | None = None) -> dict[str, Any]:
    """Central differences (f(w+ε) − f(w−ε)) / 2ε for the 12 weights with the largest gradient (of
    ``params``, the tensors ``loss_of`` reads, nudged in place; by default float64 copies of ``arrays``)."""
    from ..autograd import no_grad

    if params is None:
        params = [Tensor(xp.array(a, dtype=xp.float64), requires_grad=True) for a in arrays]
    start = time.perf_counter()
    loss_of(*params).backward()
    backprop_seconds = time.perf_counter() - start
    backprop = xp.concatenate([p.grad.data.ravel() for p in params])
    pick = [int(i) for i in xp.argsort(-xp.abs(backprop))[:SHOWN]]
    offsets = xp.cumsum([0] + [p.data.size for p in params])
    numeric = []
    start = time.perf_counter()
    with no_grad():
        for flat in pick:
            k = int(xp.searchsorted(offsets, flat, side="right")) - 1
            view = params[k].data.reshape(-1)
            original = view[flat - offsets[k]]
            view[flat - offsets[k]] = original + eps
            plus = loss_of(*params).item()
            view[flat - offsets[k]] = original - eps
            minus = loss_of(*params).item()
            view[flat - offsets[k]] = original
            numeric.append((plus - minus) / (2 * eps))
    numeric_seconds = time.perf_counter() - start
    rows = [{"weight": weight_name(names, arrays, flat), "nudging": n, "backprop": float(backprop[flat])}
            for flat, n in zip(pick, numeric, strict=True)]
    return {"weights": len(pick), "batch": batch, "numeric_seconds": numeric_seconds,
            "backprop_seconds": backprop_seconds, "rows": rows,
            "max_abs_diff": max(abs(r["nudging"] - r["backprop"]) for r in rows)}


def nudge_current_batch(session: Any, which: str) -> dict[str, Any]:
    """:func:`compare` on the session's current batch (before the first batch: the first images, without
    drawing from the shuffling generator) with the weights as they are now."""
    learn = session.learner
    with session.cond:
        if learn.batch and getattr(learn, "xb", None) is not None:
            xb, yb = learn.xb.data, learn.yb.data
        else:
            train = learn.dls.train
            xb, yb = (a[:train.batch_size] for a in train.dataset.arrays)
        weights = session.current_weights()
    return compare(session.settings.model, learn.loss_func, weights, xb, yb, which)
