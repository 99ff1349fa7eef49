"""Reverse-mode automatic differentiation: the "gradient" step of the seven steps.

Three modules, one idea each: ``function`` (how an op is written and recorded: ``Function``, ``Context``),
``engine`` (the backward pass: ``backward``, ``grad``, ``unbroadcast``) and ``grad_mode`` (``no_grad`` and
its relatives). Everything is importable from here, as ``sevensteps.autograd.X``.

Every differentiable op is a :class:`Function` with a ``forward`` and a ``backward`` written side by side
(see ``ops.py``). ``Function.apply`` runs the forward on plain arrays and, when a gradient will be wanted,
records a :class:`Context` on the output: which op made it, from which inputs (and the contexts that made
those), and what the op saved. Those records form a graph, and :func:`backward` walks it from the output
back to the leaves, applying the chain rule: each op turns the gradient of its output into gradients of its
inputs.

Three details people ask about:

* **Why a topological sort?** A tensor used twice (``y = x * x``) gets gradient from both uses, and its
  own ``backward`` may run only once that sum is complete. Visiting the graph in reverse topological
  order guarantees every consumer is done before its producer runs. Each context is numbered when its op
  runs, after the contexts of its inputs, so newest first is such an order (PyTorch's sequence numbers).
  The walk that finds the contexts is iterative, so a 100,000-op chain does not hit Python's recursion limit.
* **Why accumulate?** The same reason at the leaves: ``.grad`` is the sum over every path from the loss
  to the weight, and PyTorch adds new gradients to an existing ``.grad`` across ``backward`` calls too,
  until ``zero_grad`` clears it.
* **Why a version counter?** An op may save an input for its backward (``a * w`` keeps ``a``). Changing
  ``a`` in place afterwards would make that backward use the new values and give wrong gradients without
  a word. Every in-place change adds one to the tensor's version; each context remembers the versions of
  what it saved, and backward refuses, with a clear error, if they have moved on (as PyTorch does).
"""

from __future__ import annotations

from typing import Any

from . import engine, function, grad_mode
from .engine import backward, grad, unbroadcast
from .function import Context, Function
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled


def connect(tensor_class: Any) -> None:
    """Hand the Tensor class to the modules that make tensors: tensor.py calls this when it loads, since it is
    itself built on Function (imports stay one-way: nothing here imports tensor.py)."""
    function.Tensor = engine.Tensor = tensor_class


__all__ = ["Context", "Function", "backward", "enable_grad", "grad", "grad_mode", "inference_mode",
           "is_grad_enabled", "no_grad", "set_grad_enabled", "unbroadcast"]
