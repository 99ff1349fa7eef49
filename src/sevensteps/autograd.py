"""Reverse-mode automatic differentiation: the "gradient" step of the seven steps.

Every differentiable op is a :class:`Function` with a ``forward`` and a ``backward`` written side by side
(see ``ops.py``). ``Function.apply`` runs the forward on plain arrays and, when a gradient will be wanted,
records a :class:`Context` on the output: which op made it, from which inputs (and the contexts that made
those), and what the op saved. Those records form a graph, and :func:`backward` walks it from the output
back to the leaves, applying the chain rule: each op turns the gradient of its output into gradients of its
inputs.

Three details people ask about:

* **Why a topological sort?** A tensor used twice (``y = x * x``) gets gradient from both uses, and its
  own ``backward`` may run only once that sum is complete. Visiting the graph in reverse topological
  order guarantees every consumer is done before its producer runs. The sort is iterative, so a
  100,000-op chain does not hit Python's recursion limit.
* **Why accumulate?** The same reason at the leaves: ``.grad`` is the sum over every path from the loss
  to the weight, and PyTorch adds new gradients to an existing ``.grad`` across ``backward`` calls too,
  until ``zero_grad`` clears it.
* **Why a version counter?** An op may save an input for its backward (``a * w`` keeps ``a``). Changing
  ``a`` in place afterwards would make that backward use the new values and give wrong gradients without
  a word. Every in-place change adds one to the tensor's version; each context remembers the versions of
  what it saved, and backward refuses, with a clear error, if they have moved on (as PyTorch does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    """Sets whether ops record a graph, for a ``with`` block or a decorated function.

    Usable as ``with no_grad():``, ``@no_grad()`` and ``@no_grad`` (without parentheses), as in PyTorch.
    """

    enabled: bool

    def __new__(cls, orig_func: Callable | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, fn: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = fn.__doc__
        return wrapper

    def clone(self) -> _GradMode:
        return type(self)()


class no_grad(_GradMode):
    """Inside ``with no_grad():`` ops record no graph: for validation and for weight updates."""

    enabled = False


class enable_grad(_GradMode):
    """Inside ``with enable_grad():`` ops record a graph again (within a ``no_grad`` block)."""

    enabled = True


class inference_mode(_GradMode):
    """``inference_mode()`` (or ``inference_mode(False)``): like :class:`no_grad`, for evaluation."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # @inference_mode without parentheses
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode: Any = True):
        self.enabled = not mode if isinstance(mode, bool) else False

    def clone(self) -> _GradMode:
        return type(self)(not self.enabled)


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` switches recording off at once (as a call) or for a ``with`` block."""

    def __new__(cls, mode: bool) -> Any:
        return object.__new__(cls)

    def __init__(self, mode: bool):
        global _grad_enabled
        self.enabled = bool(mode)
        self._before_call = _grad_enabled
        _grad_enabled = self.enabled

    def __enter__(self) -> None:
        self._previous = self._before_call

    def clone(self) -> _GradMode:
        return type(self)(self.enabled)


class Context:
    """What one op application remembers for its backward.

    ``save_for_backward`` keeps arrays, ``needs_input_grad[i]`` says whether input ``i`` wants a
    gradient (so backward can skip work nobody needs), and an op may set any other attribute.
    ``inputs`` are the input tensors and ``parents`` the contexts that made them when the op ran (``None``
    for a leaf): the graph's edges, which a later in-place change of an input does not move.
    """

    # Defaults on the class, so that creating a context (once per op) sets only what differs.
    saved_tensors: tuple = ()
    versions: Any = ()  # (version counter, version when saved) for each saved input or output
    freed = False
    retains_grad_of: Any = None  # the tensor whose .grad to fill here (set by Tensor.retain_grad)

    def __init__(self, fn: type[Function], inputs: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays

    def check_versions(self) -> None:
        """Refuse to run backward if a saved tensor was changed in place since the forward."""
        for box, version in self.versions:
            if box[0] != version:
                raise RuntimeError(
                    f"one of the tensors needed for gradient computation has been modified by an in-place "
                    f"operation: {self!r} saved it at version {version}, and it is now at version {box[0]}; "
                    "change a clone() instead, or make the in-place change after backward()"
                )

    def free(self) -> None:
        """Drop everything backward needed; the graph above this node can no longer be walked."""
        name = self.fn.__name__
        self.__dict__.clear()
        self.fn_name = name
        self.freed = True

    def name(self) -> str:
        return self.fn_name if self.freed else self.fn.__name__

    def __repr__(self) -> str:
        return f"<{self.name()}Backward>"


class Function:
    """One differentiable op: ``forward(ctx, *inputs)`` and ``backward(ctx, grad)``, as in PyTorch.

    ``forward`` receives plain arrays for tensor arguments (other arguments as given) and returns an
    array. ``backward`` receives the gradient of the output and returns one gradient per positional
    input, or ``None`` where no gradient is needed. Gradients may have the broadcast shape; the engine
    reduces them to each input's shape (see :func:`unbroadcast`) and dtype.

    A Function whose output may be a view of its first input's memory (reshape, a slice) sets
    ``is_view = True``: the output then shares the input's version counter, as views do in PyTorch.
    """

    is_view = False

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        arrays, inputs, needs, parents = [], [], [], []
        for a in args:  # one pass: this runs for every op on the hot path
            if isinstance(a, Tensor):
                arrays.append(a.data)
                inputs.append(a)
                needs.append(a.requires_grad)
                parents.append(a._ctx)
            else:
                arrays.append(a)
                inputs.append(None)
                needs.append(False)
                parents.append(None)
        record = _grad_enabled and True in needs
        ctx = Context(cls, tuple(inputs) if record else (), tuple(needs))
        out = Tensor(cls.forward(ctx, *arrays, **kwargs))
        if cls.is_view:
            _share_version_if_view(out, inputs[0])
        if record:
            out.requires_grad = True
            out._ctx = ctx
            ctx.parents = parents
            saved = ctx.saved_tensors
            if saved:  # remember the versions of the saved arrays that belong to tensors (inlined: hot path)
                versions = []
                out_data = out.data
                for array in saved:
                    if array is out_data:
                        versions.append((out._version, 0))
                        continue
                    for t in inputs:
                        if t is not None and array is t.data:
                            box = t._version
                            versions.append((box, box[0]))
                            break
                ctx.versions = versions
            if cls.is_view and out._base is not None:
                # a view must not outlive an in-place change of its base: its graph would no longer describe it
                box = out._version
                ctx.versions = [*ctx.versions, (box, box[0])]
        return out


def _share_version_if_view(out: Tensor, source: Tensor | None) -> None:
    if source is not None and out.data.base is not None and xp.may_share_memory(out.data, source.data):
        out._version = source._version
        out._base = source if source._base is None else source._base


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
    """Every context the roots depend on, each after all the contexts that made its inputs."""
    order: list[Context] = []
    seen: set[int] = set()
    stack: list[tuple[Context, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.freed:
            raise RuntimeError(
                f"trying to backward through the graph a second time (at {node!r}): its saved values "
                "were freed by the first backward; call backward(retain_graph=True) the first time"
            )
        stack.append((node, True))
        for parent in node.parents:
            if parent is not None and id(parent) not in seen:
                stack.append((parent, False))
    return order


def _seed(root: Tensor, gradient: Any) -> Any:
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn: "
                           "backward() needs a tensor computed from one with requires_grad=True")
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() needs an explicit gradient for a non-scalar output of shape {root.shape}"
            )
        return xp.ones_like(root.data)
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
    grads: dict[int, Any] = {}
    root_contexts = []
    for root, seed in zip(roots, seeds, strict=True):
        if root._ctx is None:
            _deliver(root, seed, given_to_leaves, capture)
        elif id(root._ctx) in grads:
            grads[id(root._ctx)] = grads[id(root._ctx)] + seed
        else:
            grads[id(root._ctx)] = seed
            root_contexts.append(root._ctx)
    wanted_contexts = {} if capture is None else {
        id(t._ctx): t for t in _wanted(capture) if t._ctx is not None
    }
    for ctx in reversed(_topological_order(root_contexts)):
        grad = grads.pop(id(ctx), None)
        if grad is not None:
            if wanted_contexts and id(ctx) in wanted_contexts:
                _deliver(wanted_contexts[id(ctx)], grad, given_to_leaves, capture)
            elif ctx.retains_grad_of is not None and capture is None:
                _accumulate(ctx.retains_grad_of, grad, given_to_leaves)
            for box, version in ctx.versions:
                if box[0] != version:
                    ctx.check_versions()  # raises, naming the op
            input_grads = ctx.fn.backward(ctx, grad)
            if not isinstance(input_grads, tuple):
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
                elif id(parent) in grads:
                    grads[id(parent)] = grads[id(parent)] + parent_grad
                else:
                    grads[id(parent)] = parent_grad
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
        if id(_owner(grad)) in given_to_leaves or not grad.flags.writeable:
            grad = grad.copy(order="K")
        given_to_leaves.add(id(_owner(grad)))
        leaf.grad = Tensor(grad)
    elif leaf.grad.data.shape == grad.shape and leaf.grad.data.flags.writeable:
        # in place, as PyTorch accumulates: a reference to .grad taken earlier sees the sum
        xp.add(leaf.grad.data, grad, out=leaf.grad.data)
        leaf.grad._version[0] += 1
    else:
        leaf.grad = Tensor(leaf.grad.data + grad)
