"""``Function`` and ``Context``: how one op is written, and what recording it keeps for backward.

``Function.apply`` runs an op's ``forward`` on plain arrays and, when a gradient will be wanted, records a
:class:`Context` on the output: which op made it, from which inputs (and the contexts that made those), and
what the op saved, with the versions of the saved tensors (see the package docstring: why a version counter).
"""

from __future__ import annotations

from itertools import count
from typing import TYPE_CHECKING, Any

from ..backend import xp
from . import grad_mode

if TYPE_CHECKING:
    from ..tensor import Tensor

# Function.apply makes Tensors, and tensor.py is built on Function. To keep imports one-way, this
# module never imports tensor.py: tensor.py hands its class over when it loads (see autograd.connect).
Tensor: Any = None

# Every context gets the next number of this counter. An op's inputs always exist before it runs, so a
# context is numbered after every context it depends on: newest first is an order in which backward can
# visit them (PyTorch orders its backward by the same "sequence number").
_sequence = count()


class Context:
    """What one op application remembers for its backward.

    ``save_for_backward`` keeps arrays, ``needs_input_grad[i]`` says whether input ``i`` wants a
    gradient (so backward can skip work nobody needs), and an op may set any other attribute.
    ``inputs`` are the op's arguments and ``parents`` the contexts that made them when the op ran (``None``
    for a leaf or an input that needs no gradient): the graph's edges, which a later in-place change of an
    input does not move. ``sequence`` numbers contexts in the order they were made.
    """

    # Defaults on the class, so that creating a context (once per op) sets only what differs.
    saved_tensors: tuple = ()
    versions: Any = ()  # (version counter, version when saved) for each saved input or output
    parents: Any = ()
    freed = False
    retains_grad_of: Any = None  # the tensor whose .grad to fill here (set by Tensor.retain_grad)

    def __init__(self, fn: type[Function], inputs: tuple, needs_input_grad: tuple[bool, ...]):
        self.fn = fn
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.sequence = next(_sequence)

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
        fn, sequence = self.fn, self.sequence
        self.__dict__.clear()
        self.fn, self.sequence, self.freed = fn, sequence, True

    def name(self) -> str:
        return self.fn.__name__

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
        arrays, needs, parents = [], [], []
        for a in args:  # one pass: this runs for every op on the hot path
            if isinstance(a, Tensor):
                arrays.append(a.data)
                needs.append(a.requires_grad)
                parents.append(a._ctx)
            else:
                arrays.append(a)
                needs.append(False)
                parents.append(None)
        ctx = Context(cls, args, tuple(needs))
        out = Tensor(cls.forward(ctx, *arrays, **kwargs))
        if cls.is_view and isinstance(args[0], Tensor):
            _share_version_if_view(out, args[0])
        if grad_mode.enabled and True in needs:
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
                    for t in args:
                        if isinstance(t, Tensor) and array is t.data:
                            box = t._version
                            versions.append((box, box[0]))
                            break
                ctx.versions = versions
            if cls.is_view and out._base is not None:
                # a view must not outlive an in-place change of its base: its graph would no longer describe it
                box = out._version
                ctx.versions = [*ctx.versions, (box, box[0])]
        return out


def _share_version_if_view(out: Tensor, source: Tensor) -> None:
    if out.data.base is not None and xp.may_share_memory(out.data, source.data):
        out._version = source._version
        out._base = source if source._base is None else source._base
