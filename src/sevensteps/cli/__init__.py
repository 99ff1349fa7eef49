"""The ``sevensteps`` command: train, baseline, steps, gradcheck, report, predict, evaluate, sweep, lab.

One module per command, each with ``add_parser(subparsers)`` and ``run(args)``. Only the standard library
is imported at start-up, so ``sevensteps --help`` is instant; each command imports what it needs when it
runs. Every expected failure (bad flags, files, models, images) prints one line starting
``sevensteps: error:`` and exits with status 2; a closed stdout (``| head``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..lab import cli as lab
from . import baseline, evaluate, gradcheck, predict, report, steps, sweep, train
from .options import UsageError

EXIT_USAGE = 2
COMMANDS = (train, baseline, steps, gradcheck, report, predict, evaluate, sweep, lab)


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"sevensteps: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> Parser:
    parser = Parser(prog="sevensteps", description="Show, run and measure how a neural network learns: "
                    "MNIST 3s vs 7s, from pixel similarity to SGD in seven steps.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def _quiet_broken_pipe() -> None:
    """stdout was closed by the reader (``| head``): point it at /dev/null so nothing more fails."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# glibc's thresholds that keep_freed_memory sets (also given to a sweep's Dask workers through their environment)
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value (HEAP_MAX / 2 on 64-bit)
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> None:
    """Let glibc reuse freed memory instead of handing it back to the kernel, for this command only.

    A training step allocates and frees the same batch-sized arrays (0.1–1 MB) every time. By default glibc
    serves arrays that large from fresh mmap'd pages and trims the heap's top after each step, so a step can pay
    a page fault per 4 kB it had just freed (about 350 a batch at batch 256; measured in BENCHMARKS.md).
    Raising the mmap and trim thresholds ends that. It is a process-wide setting, so it lives here in the
    command's entry point, never as a side effect of importing the library.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, say): nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD)
    libc.mallopt(m_trim_threshold, TRIM_THRESHOLD)


# The models whose training splits its ops' work over every core (`sevensteps train`). The cnn's pooling,
# im2col and col2im are big elementwise passes that NumPy runs on one core: split, its epoch went from 1.09×
# to 0.80× PyTorch's at batch 256 on 2 cores. The linear and mlp models' products are small, and OpenBLAS's
# own threads run them faster than split parts on one BLAS thread each (mlp epochs 8-25% slower split, and
# the 784-128-10 MLP at batch 256 1.9× slower; BENCHMARKS.md), so they keep NumPy's threads.
SPLIT_MODELS = ("cnn",)


def use_every_core() -> None:
    """sevensteps' ops split their big products and passes over every core (``threads.set_num_threads``), as
    PyTorch's do: a cnn's pooling and col2im then run on all cores, not one. Like the allocator setting, it
    is process-wide (NumPy's BLAS gets one thread), so it lives in the command, not in the library."""
    from ..threads import available_cores, set_num_threads

    cores = available_cores()
    if cores > 1:
        set_num_threads(cores)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"sevensteps {version('sevensteps')}")
        return 0
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    keep_freed_memory()
    from ..data.dataset import DataError
    from ..extras import MissingExtra
    from ..runs import RunError
    from ..serialize import ModelFileError

    try:
        return args.run(args) or 0
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 141  # as a Unix tool killed by SIGPIPE; a train run left behind can be resumed
    except (UsageError, DataError, ModelFileError, RunError, MissingExtra) as error:
        print(f"sevensteps: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # the file system said no: a folder that is a file, no permission, disk full
        where = f"{error.filename}: " if error.filename else ""
        print(f"sevensteps: error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sevensteps: interrupted", file=sys.stderr)
        return 130
