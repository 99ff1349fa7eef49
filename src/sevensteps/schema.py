"""Checks for JSON read from a file: a schema is a :class:`Record` of small checks (:func:`integer`,
:func:`number`, :func:`string`, :func:`list_of`...), each returning ``None`` or (where, what is wrong), so
that a refusal can name the exact field. :mod:`sevensteps.serialize` describes its two kinds of file with them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from .backend import xp

# A check returns None when the value is fine, else (where inside the value, what is wrong).
Problem = tuple[str, str] | None
Check = Callable[[Any], Problem]


def shown(value: Any) -> str:
    """A value as it appears in the file, cut short: enough to recognise it in a one-line message."""
    if isinstance(value, list | dict) and len(value) > 10:
        return f"a{'n object' if isinstance(value, dict) else ' list'} of {len(value)} items"
    try:
        text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def integer(low: int | None = None, high: int | None = None) -> Check:
    """An int (not a bool, not 3.0) within [low, high]."""

    def check(value: Any) -> Problem:
        if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low) or (
                high is not None and value > high):
            limits = f" from {low}" * (low is not None) + f" to {high}" * (high is not None)
            return "", f"must be an integer{limits}, not {shown(value)}"
        return None

    return check


def number(low: float | None = None, high: float | None = None, *, allow_none: bool = False) -> Check:
    """A finite int or float within [low, high]; ``allow_none`` also takes null (a loss nobody measured)."""

    def check(value: Any) -> Problem:
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or (
                low is not None and value < low) or (high is not None and value > high):
            limits = f" from {low}" * (low is not None) + f" to {high}" * (high is not None)
            return "", f"must be a finite number{limits}{' or null' * allow_none}, not {shown(value)}"
        return None

    return check


def string(max_length: int = 1000, *, allow_none: bool = False) -> Check:
    """A str of at most ``max_length`` characters."""

    def check(value: Any) -> Problem:
        if (value is None and allow_none) or (isinstance(value, str) and len(value) <= max_length):
            return None
        return "", f"must be a string of at most {max_length} characters, not {shown(value)}"

    return check


def boolean() -> Check:
    def check(value: Any) -> Problem:
        return None if isinstance(value, bool) else ("", f"must be true or false, not {shown(value)}")

    return check


def exactly(expected: Any) -> Check:
    def check(value: Any) -> Problem:
        return None if value == expected else ("", f"must be {shown(expected)}, not {shown(value)}")

    return check


def list_of(item: Check, *, min_length: int = 0, max_length: int | None = None, unique: bool = False,
            allow_none: bool = False) -> Check:
    """A list whose items all pass ``item``."""

    def check(value: Any) -> Problem:
        if value is None and allow_none:
            return None
        too_long = isinstance(value, list) and max_length is not None and len(value) > max_length
        if not isinstance(value, list) or len(value) < min_length or too_long:
            size = f"{min_length} to {max_length}" if max_length is not None else f"at least {min_length}"
            return "", f"must be a list of {size} items, not {shown(value)}"
        for index, element in enumerate(value):
            if (problem := item(element)) is not None:
                return f"[{index}]{problem[0]}", problem[1]
        if unique and len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
            return "", f"must not repeat an item, not {shown(value)}"
        return None

    return check


def mapping(value_check: Check, *, max_items: int = 10_000) -> Check:
    """A dict with string keys whose values all pass ``value_check``."""

    def check(value: Any) -> Problem:
        if not isinstance(value, dict) or len(value) > max_items:
            return "", f"must be an object (at most {max_items} fields), not {shown(value)}"
        for key, element in value.items():
            if (problem := value_check(element)) is not None:
                return f".{key}{problem[0]}", problem[1]
        return None

    return check


def any_of(*checks: Check, description: str) -> Check:
    """A value that passes at least one of ``checks``."""

    def check(value: Any) -> Problem:
        if any(c(value) is None for c in checks):
            return None
        return "", f"must be {description}, not {shown(value)}"

    return check


class Record:
    """A dict with named fields, each with its check; ``required`` fields must be present (all by default).

    ``rules`` relate fields to each other: each takes the dict and returns a Problem. Fields not named are
    allowed (a newer writer may add some) and left alone.
    """

    def __init__(self, fields: Mapping[str, Check], *, required: tuple[str, ...] | None = None,
                 rules: tuple[Callable[[Mapping[str, Any]], Problem], ...] = ()) -> None:
        self.fields = dict(fields)
        self.required = tuple(self.fields) if required is None else required
        self.rules = rules

    def check(self, value: Any, partial: bool = False) -> Problem:
        if not isinstance(value, dict):
            return "", f"must be an object, not {shown(value)}"
        for name in () if partial else self.required:
            if name not in value:
                return f".{name}", "is missing"
        for name, field_check in self.fields.items():
            if name in value and (problem := field_check(value[name])) is not None:
                return f".{name}{problem[0]}", problem[1]
        for rule in self.rules:
            if (problem := rule(value)) is not None:
                return problem
        return None

    __call__ = check


def generator_state() -> Check:
    """A NumPy bit generator's state (as a dict, or the JSON string of one) that the generator accepts."""
    kinds = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")

    def check(value: Any) -> Problem:
        state = value
        if isinstance(value, str):
            try:
                state = json.loads(value)
            except ValueError:
                state = None
        kind = state.get("bit_generator") if isinstance(state, dict) else None
        if kind not in kinds:
            return "", f"must be the state of a NumPy random generator ({', '.join(kinds)}), not {shown(value)}"
        try:
            getattr(xp.random, kind)().state = state
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            return "", f"is not a valid {kind} state ({' '.join(str(error).split())[:80]})"
        return None

    return check
