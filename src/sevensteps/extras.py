"""The optional extras: a feature whose packages are missing says so in one line, with the command that installs them.

``pip install sevensteps`` gives the library, the command and the run report. The rest are extras:
``plots`` (matplotlib: notebook figures, ``gradcheck --plot``), ``lab`` (Starlette, Uvicorn) and ``cluster`` (Dask).
"""

from __future__ import annotations


class MissingExtra(ImportError):
    """A feature needs a package of an optional extra that is not installed."""


def missing(feature: str, package: str, extra: str) -> MissingExtra:
    """The error to raise: ``{feature} needs {package}, which is not installed: pip install "sevensteps[{extra}]"``
    (``which are`` for packages named as ``A and B``)."""
    verb = "are" if " and " in package else "is"
    return MissingExtra(f'{feature} needs {package}, which {verb} not installed: pip install "sevensteps[{extra}]"')
