"""Reverse-mode automatic differentiation: the "gradient" step of the seven steps.

Every differentiable op is a :class:`Function` with a ``forward`` and a ``backward`` written side by side
(see ``ops.py``). ``Function.apply`` runs the forward on plain arrays and, when a gradient will be wanted,
records a :class:`Context` on the output: which op made it, from which inputs, and what the op saved.
Those records form a graph, and :func:`backward` walks it from the output back to the leaves, applying
the chain rule: each op turns the gradient of its output into gradients of its inputs.

Two details people ask about:

* **Why a topological sort?** A tensor used twice (``y = x * x``) gets gradient from both uses, and its
  own ``backward`` may run only once that sum is complete. Visiting the graph in reverse topological
  order guarantees every consumer is done before its producer runs. The sort is iterative, so a
  100,000-op chain does not hit Python's recursion limit.
* **Why accumulate?** The same reason at the leaves: ``.grad`` is the sum over every path from the loss
  to the weight, and PyTorch adds new gradients to an existing ``.grad`` across ``backward`` calls too,
  until ``zero_grad`` clears it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .backend import xp

if TYPE_CHECKING:
    from .tensor import Tensor

_grad_enabled = True

# Function.apply makes Tensors, and tensor.py is built on Function. To keep imports one-way, this
# module never imports tensor.py: tensor.py hands its class over when it loads (see its last line).
Tensor: Any = None


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode:
    """Sets whether ops record a graph, for a ``with`` block or a decorated function."""

    enabled: bool

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, fn: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = fn.__doc__
        return wrapper


class no_grad(_GradMode):
    """Inside ``with no_grad():`` ops record no graph: for validation and for weight updates."""

    enabled = False


class enable_grad(_GradMode):
    enabled = True


class Context:
    """What one op application remembers for its backward.

    ``save_for_backward`` keeps arrays, ``needs_input_grad[i]`` says whether input ``i`` wants a
    gradient (so backward can skip work nobody needs), and an op may set any other attribute.
    """

    def __init__(self, fn: type[Function], inputs: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()
        self.freed = False

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    def free(self) -> None:
        """Drop everything backward needed; the graph above this node can no longer be walked."""
        name = self.fn.__name__
        self.__dict__.clear()
        self.fn_name = name
        self.freed = True

    def __repr__(self) -> str:
        name = self.fn_name if self.freed else self.fn.__name__
        return f"<{name}Backward>"


class Function:
    """One differentiable op: ``forward(ctx, *inputs)`` and ``backward(ctx, grad)``, as in PyTorch.

    ``forward`` receives plain arrays for tensor arguments (other arguments as given) and returns an
    array. ``backward`` receives the gradient of the output and returns one gradient per positional
    input, or ``None`` where no gradient is needed. Gradients may have the broadcast shape; the engine
    reduces them to each input's shape (see :func:`unbroadcast`).
    """

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        arrays, inputs, needs = [], [], []
        for a in args:  # one pass: this runs for every op on the hot path
            if isinstance(a, Tensor):
                arrays.append(a.data)
                inputs.append(a)
                needs.append(a.requires_grad)
            else:
                arrays.append(a)
                inputs.append(None)
                needs.append(False)
        record = _grad_enabled and True in needs
        ctx = Context(cls, tuple(inputs) if record else (), tuple(needs))
        out = Tensor(cls.forward(ctx, *arrays, **kwargs))
        if record:
            out.requires_grad = True
            out._ctx = ctx
        return out


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


def _topological_order(root: Tensor) -> list[Tensor]:
    """Every non-leaf tensor that ``root`` depends on, each after all the tensors it was made from."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node._ctx.freed:
            raise RuntimeError(
                f"trying to backward through the graph a second time (at {node._ctx!r}): its saved values "
                "were freed by the first backward; call backward(retain_graph=True) the first time"
            )
        stack.append((node, True))
        for parent in node._ctx.inputs:
            if parent is not None and parent._ctx is not None and id(parent) not in seen:
                stack.append((parent, False))
    return order


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Backpropagate from ``root``, adding d(root)/d(leaf) into the ``.grad`` of every leaf that needs it."""
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad and has no graph")
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() needs an explicit gradient for a non-scalar output of shape {root.shape}"
            )
        seed = xp.ones_like(root.data)
    else:
        seed = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=root.dtype)
        if seed.shape != root.shape:
            raise RuntimeError(f"gradient has shape {seed.shape}, but the output has shape {root.shape}")
    # Memory already handed out: the seed may be the caller's own array, so a .grad must never share it.
    given_to_leaves: set[int] = {id(_owner(seed))}
    if root._ctx is None:
        _accumulate(root, seed, given_to_leaves)
        return

    grads: dict[int, Any] = {id(root): seed}
    for node in reversed(_topological_order(root)):
        grad = grads.pop(id(node), None)
        ctx = node._ctx
        if grad is not None:
            if node._retains_grad:
                _accumulate(node, grad, given_to_leaves)
            input_grads = ctx.fn.backward(ctx, grad)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, parent_grad in zip(ctx.inputs, input_grads, strict=False):
                if parent is None or parent_grad is None or not parent.requires_grad:
                    continue
                parent_grad = unbroadcast(parent_grad, parent.data.shape)
                if parent._ctx is None:
                    _accumulate(parent, parent_grad, given_to_leaves)
                elif id(parent) in grads:
                    grads[id(parent)] = grads[id(parent)] + parent_grad
                else:
                    grads[id(parent)] = parent_grad
        if not retain_graph:
            ctx.free()


def _owner(array: Any) -> Any:
    """The array that owns the memory ``array`` looks at (itself, unless it is a view)."""
    while isinstance(array.base, xp.ndarray):
        array = array.base
    return array


def _accumulate(leaf: Tensor, grad: Any, given_to_leaves: set[int]) -> None:
    """``leaf.grad += grad``, PyTorch's way: the first gradient is stored, later ones are added.

    A gradient may share memory with another leaf's (``a + b`` hands the same array to both), or be a
    read-only broadcast view; those are copied, so that each ``.grad`` can be changed in place alone.
    """
    if grad.dtype != leaf.data.dtype:
        grad = grad.astype(leaf.data.dtype)
    if leaf.grad is None:
        if id(_owner(grad)) in given_to_leaves or not grad.flags.writeable:
            grad = grad.copy(order="K")
        given_to_leaves.add(id(_owner(grad)))
        leaf.grad = Tensor(grad)
    else:
        leaf.grad = Tensor(leaf.grad.data + grad)

