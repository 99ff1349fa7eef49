"""The backward pass: the chain rule from an output down to every leaf that wants a gradient.

:func:`backward` (``Tensor.backward``) adds the gradients into the leaves' ``.grad``; :func:`grad`
(``autograd.grad``) returns them instead. Both walk the recorded graph newest op first, so each op runs its
``backward`` once, after every op that used its output has handed its share down.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from ..backend import xp
from .function import Context

if TYPE_CHECKING:
    from ..tensor import Tensor

Tensor: Any = None  # handed over by tensor.py when it loads (see autograd.connect)

_newest_first = attrgetter("sequence")


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get back ``shape``.

    If ``a`` of shape (3, 1) was broadcast to (2, 3, 4), each of its elements was used 2·4 times, so
    its gradient is the sum over those uses: over the new leading axis and the stretched last axis.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0 or any(grad.shape[extra + i] != n for i, n in enumerate(shape) if n != 1):
        raise RuntimeError(f"a gradient of shape {grad.shape} cannot be reduced to the input shape {shape}")
    stretched = tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    reduced = grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True)
    return reduced.reshape(shape)


def _topological_order(roots: Sequence[Context]) -> list[Context]:
    """Every context the roots depend on, newest first: each comes after all the contexts that use its output.

    A context is numbered when its op runs, after the contexts that made its inputs (``Context.sequence``),
    so sorting the reachable ones by that number, newest first, is a topological order. The walk that finds
    them is iterative, so a 100,000-op chain does not hit Python's recursion limit.
    """
    found = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node.freed:
            raise RuntimeError(
                f"trying to backward through the graph a second time (at {node!r}): its saved values "
                "were freed by the first backward; call backward(retain_graph=True) the first time"
            )
        for parent in node.parents:
            if parent is not None and parent not in found:
                found.add(parent)
                stack.append(parent)
    return sorted(found, key=_newest_first, reverse=True)


def _seed(root: Tensor, gradient: Any) -> Any:
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn: "
                           "backward() needs a tensor computed from one with requires_grad=True")
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() needs an explicit gradient for a non-scalar output of shape {root.shape}"
            )
        return xp.array(1, root.data.dtype).reshape(root.data.shape)  # xp.ones, without its Python layer
    seed = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=root.dtype)
    if seed.shape != root.shape:
        raise RuntimeError(f"gradient has shape {seed.shape}, but the output has shape {root.shape}")
    return seed


def _run_backward(roots: Sequence[Tensor], seeds: Sequence[Any], retain_graph: bool,
                  capture: dict[int, Any] | None = None) -> None:
    """The chain rule from ``roots`` down. Leaves get ``.grad``, or, when ``capture`` maps ids of wanted
    tensors to None, the wanted tensors' gradients go into ``capture`` instead and no ``.grad`` changes."""
    # Memory already handed out: a seed may be the caller's own array, so a .grad must never share it.
    given_to_leaves: set[int] = {id(_owner(seed)) for seed in seeds}
    grads: dict[Context, Any] = {}  # each context's output gradient, summed over the ops that used the output
    for root, seed in zip(roots, seeds, strict=True):
        if root._ctx is None:
            _deliver(root, seed, given_to_leaves, capture)
        elif root._ctx in grads:
            grads[root._ctx] = grads[root._ctx] + seed
        else:
            grads[root._ctx] = seed
    wanted_contexts = {} if capture is None else {t._ctx: t for t in _wanted(capture) if t._ctx is not None}
    for ctx in _topological_order(list(grads)):
        grad = grads.pop(ctx, None)
        if grad is not None:
            if wanted_contexts and ctx in wanted_contexts:
                _deliver(wanted_contexts[ctx], grad, given_to_leaves, capture)
            elif ctx.retains_grad_of is not None and capture is None:
                _accumulate(ctx.retains_grad_of, grad, given_to_leaves)
            for box, version in ctx.versions:
                if box[0] != version:
                    ctx.check_versions()  # raises, naming the op
            input_grads = ctx.fn.backward(ctx, grad)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            for tensor, parent, needs, parent_grad in zip(ctx.inputs, ctx.parents, ctx.needs_input_grad,
                                                          input_grads, strict=False):
                if parent_grad is None or not needs:
                    continue
                data = tensor.data
                if parent_grad.shape != data.shape:
                    parent_grad = unbroadcast(parent_grad, data.shape)
                if parent_grad.dtype != data.dtype:
                    parent_grad = parent_grad.astype(data.dtype)
                if parent is None:
                    if capture is None:
                        _accumulate(tensor, parent_grad, given_to_leaves)
                    else:
                        _deliver(tensor, parent_grad, given_to_leaves, capture)
                elif parent in grads:
                    grads[parent] = grads[parent] + parent_grad
                else:
                    grads[parent] = parent_grad
        if not retain_graph:
            ctx.free()


def _wanted(capture: dict[int, Any]) -> list[Tensor]:
    return [t for t, _ in capture.values()]


def _deliver(leaf: Tensor, grad: Any, given_to_leaves: set[int], capture: dict[int, Any] | None) -> None:
    if capture is None:
        _accumulate(leaf, grad, given_to_leaves)
    elif id(leaf) in capture:
        t, previous = capture[id(leaf)]
        capture[id(leaf)] = (t, grad.copy() if previous is None else previous + grad)


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Backpropagate from ``root``, adding d(root)/d(leaf) into the ``.grad`` of every leaf that needs it."""
    _run_backward([root], [_seed(root, gradient)], retain_graph)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """d(outputs)/d(inputs), returned (not added to ``.grad``), as ``torch.autograd.grad``.

    ``create_graph=True`` (gradients that are themselves differentiable) is not supported: the backward
    rules here compute on plain arrays.
    """
    if create_graph:
        raise NotImplementedError("autograd.grad(create_graph=True): sevensteps computes gradients on plain "
                                  "arrays, so a gradient cannot be differentiated again")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad got {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("one of the inputs to autograd.grad does not require grad")
    capture: dict[int, Any] = {id(t): (t, None) for t in inputs}
    seeds = [_seed(o, g) for o, g in zip(outputs, grad_outputs, strict=True)]
    _run_backward(outputs, seeds, bool(retain_graph), capture)
    result = []
    for i, t in enumerate(inputs):
        value = capture[id(t)][1]
        if value is None and not allow_unused:
            raise RuntimeError(f"input {i} of autograd.grad was not used to compute the outputs; "
                               "pass allow_unused=True to get None for it")
        result.append(None if value is None else Tensor(value))
    return tuple(result)


def _owner(array: Any) -> Any:
    """The array that owns the memory ``array`` looks at (itself, unless it is a view)."""
    while isinstance(array.base, xp.ndarray):
        array = array.base
    return array


def _accumulate(leaf: Tensor, grad: Any, given_to_leaves: set[int]) -> None:
    """``leaf.grad += grad``, PyTorch's way: the first gradient is stored, later ones are added in place.

    A gradient may share memory with another leaf's (``a + b`` hands the same array to both), or be a
    read-only broadcast view; those are copied, so that each ``.grad`` can be changed in place alone.
    """
    if grad.dtype != leaf.data.dtype:
        grad = grad.astype(leaf.data.dtype)
    if leaf.grad is None:
        owner = id(_owner(grad))
        if owner in given_to_leaves or not grad.flags.writeable:
            grad = grad.copy(order="K")
            owner = id(grad)
        given_to_leaves.add(owner)
        leaf.grad = Tensor(grad)
    elif leaf.grad.data.shape == grad.shape and leaf.grad.data.flags.writeable:
        # in place, as PyTorch accumulates: a reference to .grad taken earlier sees the sum
        xp.add(leaf.grad.data, grad, out=leaf.grad.data)
        leaf.grad._version[0] += 1
    else:
        leaf.grad = Tensor(leaf.grad.data + grad)
