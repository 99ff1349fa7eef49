"""Model files and checkpoints as safetensors: arrays plus a JSON-able metadata header. Never pickle.

A model file holds the weights and what is needed to use them (model kind, classes, input size,
normalisation, versions). A checkpoint adds the optimizer state, the random generator's state and the
training history, so that a resumed run continues exactly where the last one stopped.

Nothing read from a file is trusted: :func:`load` checks every tensor (dtype exactly as expected, no NaN
or infinity, shapes when the caller knows them) and the metadata fields against a schema (types and
ranges) before anything uses them, and refuses with one line naming the file and the field. The schemas
are built from the checks in :mod:`sevensteps.schema`; :data:`MODEL_METADATA` and :data:`CHECKPOINT_METADATA`
describe the two kinds of file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .backend import xp
from .files import atomic_path, display
from .schema import (
    Problem,
    Record,
    any_of,
    boolean,
    exactly,
    generator_state,
    integer,
    list_of,
    mapping,
    number,
    shown,
    string,
)

FORMAT = "sevensteps-model"
CHECKPOINT_FORMAT = "sevensteps-checkpoint"
MAX_HIDDEN = 65_536  # hidden units a model file may claim: 784 × 65,536 float32 weights are 205 MB
MAX_EPOCHS = 10_000_000

# safetensors' dtype codes and NumPy's names for them
_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64", "BOOL": "bool",
           "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16", "U32": "uint32", "I32": "int32",
           "U64": "uint64", "I64": "int64"}


class ModelFileError(Exception):
    """A model or checkpoint file that is missing, damaged, or does not fit: one line naming the file."""


# ---------------------------------------------------------------- writing


def save(path: Path, arrays: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write arrays and metadata atomically (a temporary file, then a rename).

    A full disk or a folder without permission raises :class:`sevensteps.files.FileWriteError` (an OSError)
    naming ``path``; the previous file, if any, is left as it was.
    """
    from safetensors.numpy import save as to_bytes

    header = {key: json.dumps(value) for key, value in metadata.items()}
    contiguous = {name: xp.ascontiguousarray(array) for name, array in arrays.items()}
    data = to_bytes(contiguous, metadata=header)  # written by Python, so a full disk is an ordinary OSError
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(data)


# ---------------------------------------------------------------- reading


Shapes = Mapping[str, tuple[int, ...]]


def load(
    path: Path,
    expected_format: str | None = None,
    *,
    expect_shapes: Shapes | Callable[[dict[str, Any]], Shapes] | None = None,
    dtype: str | None = "float32",
    schema: Record | None = None,
    finite: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(arrays, metadata) from a file written by :func:`save`, every part checked; damage is a ModelFileError.

    - ``expected_format``: the metadata's ``format`` must be this.
    - ``schema``: the metadata must satisfy it in full (:func:`check_metadata`). Without one, the known
      formats' fields that are present are still checked (:data:`MODEL_METADATA`, :data:`CHECKPOINT_METADATA`).
    - ``expect_shapes``: tensors that must be present with exactly these shapes; a function of the (checked)
      metadata may compute them, e.g. from the recorded architecture. Checked before any tensor is read.
    - ``dtype``: every tensor's dtype exactly (no silent casts); ``None`` accepts any.
    - ``finite``: every floating-point tensor must be free of NaN and infinity (``False`` to inspect a
      diverged run's file on purpose).
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    where = display(path)
    if not path.is_file():
        raise ModelFileError(f"{where}: no such model file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = _decode_metadata(where, handle.metadata() or {})
            _check_format_and_schema(where, metadata, expected_format, schema)
            declared = {name: (tuple(handle.get_slice(name).get_shape()), handle.get_slice(name).get_dtype())
                        for name in handle.keys()}
            _check_declared(where, declared, metadata, expect_shapes, dtype)
            arrays = {name: handle.get_tensor(name) for name in declared}
    except (SafetensorError, OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise ModelFileError(f"{where}: not a readable safetensors file, damaged or truncated ({reason})") from error
    for name, array in arrays.items():
        if finite and array.dtype.kind in "fc" and not xp.isfinite(array).all():
            bad = int(array.size - xp.isfinite(array).sum())
            raise ModelFileError(f"{where}: tensor {name!r} holds {bad} NaN or infinite values of {array.size}; "
                                 f"the file is damaged or came from a run that diverged")
    return arrays, metadata


def _decode_metadata(where: str, header: dict[str, str]) -> dict[str, Any]:
    metadata = {}
    for key, value in header.items():
        try:
            metadata[key] = json.loads(value)
        except (ValueError, RecursionError) as error:
            reason = error if isinstance(error, ValueError) else "nested too deeply"
            raise ModelFileError(f"{where}: metadata field {key!r} is not valid JSON ({reason})") from error
    return metadata


def _check_format_and_schema(where: str, metadata: dict[str, Any], expected_format: str | None,
                             schema: Record | None) -> None:
    if expected_format is not None and metadata.get("format") != expected_format:
        found = shown(metadata["format"]) if "format" in metadata else "no sevensteps metadata"
        raise ModelFileError(f"{where}: is not a {expected_format} file ({found})")
    known = KNOWN_SCHEMAS.get(metadata["format"]) if isinstance(metadata.get("format"), str) else None
    if schema is not None:
        check_metadata(where, metadata, schema)
    elif known is not None:
        check_metadata(where, metadata, known, partial=True)


def _check_declared(where: str, declared: dict[str, tuple[tuple[int, ...], str]], metadata: dict[str, Any],
                    expect_shapes: Shapes | Callable[[dict[str, Any]], Shapes] | None, dtype: str | None) -> None:
    """Dtypes and shapes as the file's header declares them, before a byte of tensor data is read."""
    for name, (_, code) in declared.items():
        found = _DTYPES.get(code, code)
        if dtype is not None and found != dtype:
            raise ModelFileError(f"{where}: tensor {name!r} is {found}, expected {dtype} (never cast silently)")
    try:
        shapes = expect_shapes(metadata) if callable(expect_shapes) else expect_shapes
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{where}: its metadata does not describe its tensors ({error!r})") from error
    for name, shape in (shapes or {}).items():
        if name not in declared:
            raise ModelFileError(f"{where}: tensor {name!r} is missing")
        if declared[name][0] != tuple(shape):
            raise ModelFileError(f"{where}: tensor {name!r} has shape {list(declared[name][0])}, "
                                 f"expected {list(shape)} for the architecture recorded in the file")


def check_metadata(path: Path | str, metadata: Mapping[str, Any], schema: Record, *, partial: bool = False) -> None:
    """Raise ModelFileError naming ``path`` and the first field of ``metadata`` that ``schema`` refuses.

    With ``partial``, top-level fields that are absent are not required (those present are still checked).
    """
    problem = schema.check(metadata, partial=partial)
    if problem is not None:
        field, text = problem
        raise ModelFileError(f"{display(path)}: metadata field {field.lstrip('.')!r} {text}")


# ---------------------------------------------------------------- the two kinds of file


def _names_match_classes(meta: Mapping[str, Any]) -> Problem:
    names, classes = meta.get("class_names"), meta.get("classes")
    if isinstance(names, list) and isinstance(classes, list) and len(names) != len(classes):
        return ".class_names", f"has {len(names)} names for {len(classes)} classes"
    return None


_CLASSES = list_of(integer(0, 9), min_length=2, max_length=10, unique=True)
_SETTINGS = Record({"model": string(100), "hidden": integer(1, MAX_HIDDEN), "loss": string(100, allow_none=True),
                    "optimizer": string(100), "lr": number(0, 1e6), "batch_size": integer(1, 1 << 24),
                    "seed": integer(0, 2**64 - 1)}, required=())
_EPOCH = Record({"epoch": integer(0, MAX_EPOCHS), "train_loss": number(allow_none=True),
                 "valid_loss": number(allow_none=True), "valid_accuracy": number(0, 1, allow_none=True),
                 "seconds": number(0, allow_none=True), "partial": boolean()}, required=("epoch",))
_HYPERPARAMETER = any_of(number(), boolean(), exactly(None), list_of(number(), max_length=16),
                         description="a finite number, true/false, null or a list of numbers")
_OPTIMIZER_GROUP = mapping(_HYPERPARAMETER)

MODEL_METADATA = Record(
    {"format": exactly(FORMAT), "model": string(100), "hidden": integer(1, MAX_HIDDEN), "classes": _CLASSES,
     "class_names": list_of(string(200), min_length=2, max_length=10), "input_size": exactly([28, 28]),
     "normalisation": string(), "loss": string(100), "versions": mapping(string(100), max_items=100)},
    required=("format", "model", "hidden", "classes", "input_size"),
    rules=(_names_match_classes,),
)
CHECKPOINT_METADATA = Record(
    {"format": exactly(CHECKPOINT_FORMAT), "settings": _SETTINGS, "classes": _CLASSES,
     "epoch": integer(0, MAX_EPOCHS), "history": list_of(_EPOCH, max_length=MAX_EPOCHS),
     "generator": generator_state(), "optimizer_groups": list_of(_OPTIMIZER_GROUP, min_length=1, max_length=100),
     "optimizer_scalars": mapping(mapping(number())),
     "best": lambda best: _best(best)},
)
KNOWN_SCHEMAS = {FORMAT: MODEL_METADATA, CHECKPOINT_FORMAT: CHECKPOINT_METADATA}


def _best(best: Any) -> Problem:
    """null, or [the best value of the watched metric, the epoch it was reached]."""
    if best is None:
        return None
    if not isinstance(best, list) or len(best) != 2:
        return "", f"must be a list [value, epoch] or null, not {shown(best)}"
    if (problem := number(allow_none=True)(best[0])) is not None:
        return "[0]", problem[1]
    if integer(0, MAX_EPOCHS)(best[1]) is not None:
        return "[1]", f"must be the epoch of the best weights (an integer), not {shown(best[1])}"
    return None
