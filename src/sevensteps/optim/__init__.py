"""Optimizers: step 5 of the seven, "change the weights against the gradient" (``torch.optim``'s names).

Updates happen in place on each parameter's array, under no graph, exactly as PyTorch's formulas say.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..backend import xp
from ..tensor import Tensor


class Optimizer:
    """Holds parameters in ``param_groups`` (each with its own hyperparameters) and per-weight ``state``."""

    defaults: dict[str, Any]

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        self.defaults = defaults
        params = list(params)
        if not params:
            raise ValueError("the optimizer got an empty list of parameters")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list[dict[str, Any]] = []
        seen: set[int] = set()
        for group in groups:
            group = {**defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                # A frozen weight (requires_grad=False) is allowed, as in PyTorch: it has no .grad, so no step moves it.
                if not isinstance(p, Tensor) or not p.is_leaf:
                    raise ValueError("an optimizer can only optimize leaf tensors (weights), not results of ops")
                if id(p) in seen:
                    raise ValueError("a weight appears twice in the optimizer's parameters; pass it once")
                seen.add(id(p))
            self.param_groups.append(group)
        self.state: dict[Tensor, dict[str, Any]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients, so the next backward does not add to the last one's."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and per-weight state (arrays), with weights numbered across the groups."""
        index = 0
        state: dict[int, dict[str, Any]] = {}
        groups = []
        for group in self.param_groups:
            numbers = []
            for p in group["params"]:
                if p in self.state:
                    state[index] = _copy_state(self.state[p])
                numbers.append(index)
                index += 1
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": numbers})
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"optimizer state has {len(groups)} parameter groups, "
                             f"this optimizer {len(self.param_groups)}")
        params = [p for group in self.param_groups for p in group["params"]]
        for saved, group in zip(groups, self.param_groups, strict=True):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError("optimizer state does not match this optimizer's parameters")
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for index, values in state_dict["state"].items():
            p = params[int(index)]
            for key, value in values.items():
                if isinstance(value, xp.ndarray) and value.shape != p.shape:
                    raise ValueError(f"optimizer state {key!r} has shape {value.shape}, its weight {p.shape}")
            self.state[p] = _copy_state(values)


def _copy_state(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.copy() if isinstance(v, xp.ndarray) else v) for k, v in values.items()}


class SGD(Optimizer):
    """Stochastic gradient descent: w ← w − lr·g.

    With ``weight_decay``: g ← g + wd·w. With ``momentum`` μ: v ← μ·v + (1 − dampening)·g, then g ← v
    (or g ← g + μ·v with ``nesterov``), as in ``torch.optim.SGD``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD needs lr, momentum and weight_decay >= 0, got {lr}, {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs a momentum > 0 and no dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self) -> None:
        for group in self.param_groups:
            lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if wd:
                    g = g + wd * p.data
                if momentum:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = xp.array(g, copy=True)
                    else:
                        buf *= momentum
                        buf += (1 - group["dampening"]) * g
                    g = g + momentum * buf if group["nesterov"] else buf
                p.data -= lr * g
                p._version[0] += 1  # an in-place change: a graph that saved p before the step is now stale


class Adam(Optimizer):
    """Adam: running means of g and g², bias-corrected; w ← w − lr·m̂ / (√v̂ + ε).

    ``weight_decay`` adds wd·w to g (L2, as ``torch.optim.Adam``).
    """

    decoupled_weight_decay = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if lr < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1) or eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__} needs lr >= 0, betas in [0, 1), eps >= 0 and weight_decay >= 0, "
                             f"got {lr}, {betas}, {eps}, {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def step(self) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if group["weight_decay"] and self.decoupled_weight_decay:
                    p.data *= 1 - group["lr"] * group["weight_decay"]
                elif group["weight_decay"]:
                    g = g + group["weight_decay"] * p.data
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(p.data)
                    state["exp_avg_sq"] = xp.zeros_like(p.data)
                state["step"] += 1
                m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                step_size = group["lr"] / (1 - beta1**t)
                denom = xp.sqrt(v) / math.sqrt(1 - beta2**t) + group["eps"]
                p.data -= step_size * m / denom
                p._version[0] += 1


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): w ← w·(1 − lr·wd) before the Adam step,
    instead of adding wd·w to the gradient. The default weight_decay is 0.01, as in ``torch.optim.AdamW``."""

    decoupled_weight_decay = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


from . import lr_scheduler  # noqa: E402  (the schedulers use Optimizer, defined above)

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
