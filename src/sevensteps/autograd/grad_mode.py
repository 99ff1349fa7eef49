"""Whether ops record a graph: ``no_grad``, ``enable_grad``, ``inference_mode`` and ``set_grad_enabled``.

One switch for the whole program, as in PyTorch's default (single-threaded) use: ``Function.apply`` reads
``grad_mode.enabled`` before every op and records the op only when it is on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

enabled = True


def is_grad_enabled() -> bool:
    return enabled


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
        global enabled
        self._previous = enabled
        enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        global enabled
        enabled = self._previous

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
        global enabled
        self.enabled = bool(mode)
        self._before_call = enabled
        enabled = self.enabled

    def __enter__(self) -> None:
        self._previous = self._before_call

    def clone(self) -> _GradMode:
        return type(self)(self.enabled)
