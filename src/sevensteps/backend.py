"""The array library behind every tensor.

This is the only module that names NumPy. Everything else does its array math through ``xp``, so a GPU
array library with NumPy's API (CuPy, say) could be slotted in here later without touching the ops.
"""

from __future__ import annotations

from typing import Any

import numpy as xp

ndarray = xp.ndarray
float32 = xp.float32
float64 = xp.float64
int64 = xp.int64


def as_dtype(dtype: object) -> xp.dtype:
    """A dtype from a NumPy dtype, a type, or its name (``"float32"``, ``"int64"``, ``"bool"``)."""
    try:
        return xp.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"unknown dtype {dtype!r}: use a NumPy dtype or a name such as 'float32'") from error


def is_floating(dtype: xp.dtype) -> bool:
    return xp.issubdtype(dtype, xp.floating)


def default_rng(seed: int | None) -> xp.random.Generator:
    """A PCG64 bit generator: fast, and its whole state can be saved and restored."""
    return xp.random.Generator(xp.random.PCG64(seed))


def empty_in_layout(shape: tuple[int, ...], strides: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised array of ``shape`` whose memory order follows ``strides`` (largest stride outermost),
    so that a result keeps the memory order of the array it comes from."""
    order = sorted(range(len(shape)), key=lambda axis: -strides[axis])
    return xp.empty([shape[axis] for axis in order], dtype=dtype).transpose(xp.argsort(order))
