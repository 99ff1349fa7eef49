"""Parameter: a tensor that is a model's weight (``torch.nn.Parameter``)."""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a model's weight: requires grad, and a Module that holds it registers it."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            data = xp.zeros((0,), dtype=xp.float32)
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
