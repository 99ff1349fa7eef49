"""Module: the base class of every layer and model: registering weights, traversal, train/eval, state_dict."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator
from typing import Any

from ..autograd import no_grad
from ..backend import as_dtype, is_floating, xp
from ..tensor import Tensor
from .parameter import Parameter


class StateDictError(KeyError, RuntimeError):
    """A state_dict whose names do not match the model (a KeyError, and a RuntimeError as in PyTorch)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ShapeMismatchError(ValueError, RuntimeError):
    """A state_dict weight of the wrong shape (a ValueError, and a RuntimeError as in PyTorch)."""


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model.

    Assigning a :class:`Parameter` or a Module to an attribute registers it, so ``parameters()``,
    ``state_dict()`` and ``zero_grad()`` find every weight; ``register_buffer`` registers a tensor that is
    saved with the model but not trained. Subclasses define ``forward``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ before setting {name}")
        if name in self._parameters and (value is None or isinstance(value, Parameter)):
            self._parameters[name] = value  # reassigning keeps the weight's place in parameters()
        elif name in self._parameters:
            raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                            "(a Parameter or None is expected)")
        elif name in self._buffers and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        elif name in self._modules and (value is None or isinstance(value, Module)):
            self._modules[name] = value
        else:
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules.pop(name, None)
            if isinstance(value, Parameter):
                self._parameters[name] = value
            elif isinstance(value, Module):
                self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor the module keeps and saves (``state_dict``) but does not train, such as running statistics."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}) needs a Tensor or None, not {type(tensor).__name__}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ traversal
    # A module or weight reachable by two paths (a layer used twice) is listed once, as in PyTorch, so an
    # optimizer steps it once per step.

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, kind: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, member in getattr(module, kind).items():
                if member is None or (remove_duplicate and id(member) in seen):
                    continue
                seen.add(id(member))
                yield (f"{module_prefix}.{name}" if module_prefix else name), member

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ------------------------------------------------------------ state

    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule, children first, then on this module (to initialise weights, say)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every weight."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every gradient (``.grad = None``), as PyTorch does by default."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad.data[...] = 0

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)`` converts every floating weight and buffer in place; ``to("cpu")`` is a no-op."""
        dtype = kwargs.get("dtype")
        for arg in args:
            if not (isinstance(arg, str) and arg.split(":")[0] == "cpu"):
                dtype = arg
        device = kwargs.get("device")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"sevensteps computes on the CPU only; device {device!r} is not available")
        if dtype is None:
            return self
        dtype = as_dtype(dtype)
        for tensor in list(self.parameters()) + list(self.buffers()):
            if is_floating(tensor.data.dtype):
                tensor.data = tensor.data.astype(dtype, order="K")
                if tensor.grad is not None:
                    tensor.grad = Tensor(tensor.grad.data.astype(dtype))
        return self

    def double(self) -> Module:
        return self.to(xp.float64)

    def float(self) -> Module:
        return self.to(xp.float32)

    def cpu(self) -> Module:
        return self

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Every weight and persistent buffer by its dotted name, detached (sharing memory with the model)."""
        state: OrderedDict[str, Tensor] = OrderedDict()
        for prefix, module in self.named_modules(remove_duplicate=False):
            dot = f"{prefix}." if prefix else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[dot + name] = param.detach()
            skip = module.__dict__.get("_non_persistent", set())
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in skip:
                    state[dot + name] = buffer.detach()
        return state

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy weights in by name; names must match (unless ``strict=False``) and shapes always.

        Returns ``(missing_keys, unexpected_keys)``, as PyTorch does."""
        own = self.state_dict()
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if strict and (missing or unexpected):
            raise StateDictError(f"state_dict does not match the model: missing {missing}, unexpected {unexpected}")
        for name, value in state_dict.items():
            if name not in own:
                continue
            array = value.data if isinstance(value, Tensor) else value
            if tuple(array.shape) != own[name].shape:
                raise ShapeMismatchError(f"weight {name!r} has shape {tuple(array.shape)} in the state_dict "
                                         f"but {own[name].shape} in the model")
            with no_grad():
                own[name].data[...] = array
                own[name]._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"
