"""Model files and checkpoints as safetensors: arrays plus a JSON-able metadata header. Never pickle.

A model file holds the weights and what is needed to use them (model kind, classes, input size,
normalisation, versions). A checkpoint adds the optimizer state, the random generator's state and the
training history, so that a resumed run continues exactly where the last one stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .backend import xp
from .files import atomic_path

FORMAT = "sevensteps-model"
CHECKPOINT_FORMAT = "sevensteps-checkpoint"


class ModelFileError(Exception):
    """A model or checkpoint file that is missing, damaged, or does not fit: one line naming the file."""


def save(path: Path, arrays: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write arrays and metadata atomically (a temporary file, then a rename)."""
    from safetensors.numpy import save_file

    header = {key: json.dumps(value) for key, value in metadata.items()}
    contiguous = {name: xp.ascontiguousarray(array) for name, array in arrays.items()}
    with atomic_path(Path(path)) as tmp:
        save_file(contiguous, str(tmp), metadata=header)


def load(path: Path, expected_format: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(arrays, metadata) from a file written by :func:`save`; damage is a ModelFileError."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="numpy") as handle:
            header = handle.metadata() or {}
            arrays = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = {key: json.loads(value) for key, value in header.items()}
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not a readable safetensors file, damaged or truncated ({error})") from error
    if expected_format is not None and metadata.get("format") != expected_format:
        found = metadata.get("format", "no sevensteps metadata")
        raise ModelFileError(f"{path}: is not a {expected_format} file ({found})")
    return arrays, metadata
