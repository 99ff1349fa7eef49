"""Containers: Sequential, ModuleList, ModuleDict (``torch.nn.modules.container``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, Self

from .module import Module


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules in order, counted, iterated and appended like a list."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Self:
        self.add_module(str(len(self)), _check_module(module, len(self)))
        return self


class Sequential(_ModuleSequence):
    """Modules applied one after the other; indexable and sliceable like a list.

    ``Sequential(a, b, c)`` names them "0", "1", "2"; ``Sequential(OrderedDict([("fc", a), ...]))`` by name.
    """

    def __init__(self, *modules: Any):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(str(name), _check_module(module, name))
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), _check_module(module, i))

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_check_index(index, len(items))][1]

    def __setitem__(self, index: int, module: Module) -> None:
        name = list(self._modules)[_check_index(index, len(self))]
        setattr(self, name, _check_module(module, index))

    def __delitem__(self, index: int) -> None:
        name = list(self._modules)[_check_index(index, len(self))]
        delattr(self, name)


class ModuleList(_ModuleSequence):
    """A list of modules whose weights the parent module registers (unlike a plain Python list)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[_check_index(index, len(items))]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_check_index(index, len(self))), _check_module(module, index))

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self


class ModuleDict(Module):
    """A dict of modules whose weights the parent module registers, in insertion order."""

    def __init__(self, modules: dict[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _check_module(module, key))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Any:
        return self._modules.keys()

    def values(self) -> Any:
        return self._modules.values()

    def items(self) -> Any:
        return self._modules.items()

    def update(self, modules: dict[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, dict) else modules
        for key, module in pairs:
            self[key] = module


def _check_module(module: Any, name: Any) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"item {name!r} is a {type(module).__name__}, not a Module")
    return module


def _check_index(index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for a container of {length} modules")
    return index % length
