"""``sevensteps lab``: its flags and what it does with them.

``sevensteps lab`` (registered in :mod:`sevensteps.cli` like every command, by ``add_parser(subparsers)``
and ``run(args)``) and ``python -m sevensteps.lab``. Nothing heavy (Starlette, NumPy) is imported until ``run``.
"""

from __future__ import annotations

import argparse
import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="sample",
                        help="training source: sample (default), mnist, mnist_sample, fashion-mnist, or a path")
    parser.add_argument("--digits", default="3,7", help="classes to tell apart: 3,7 (default), 0-4, or all")
    parser.add_argument("--model", default="linear", help="linear (default), mlp or cnn")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default 1.0 linear, 0.1 mlp, 1e-3 cnn with Adam)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; anything else lets other machines in)")
    parser.add_argument("--no-browser", action="store_true", help="print the URL but do not open a browser")
    parser.add_argument("--out", default="runs", help="where Save puts run folders (default ./runs)")
    parser.add_argument("--open", default=None, metavar="RUN_DIR", help="start from this run folder")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``lab`` to the ``sevensteps`` command's subcommands."""
    parser = subparsers.add_parser("lab", help="watch and drive the seven steps live in a browser",
                                   description="Start the live lab on this machine: a page that drives the "
                                   "seven steps step by step, batch by batch or playing, with live weights, "
                                   "curves, draw-a-digit and nudging vs calculus.")
    add_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Serve the lab until Ctrl-C; 2 with one ``sevensteps: error:`` line on bad input."""
    from pathlib import Path

    from ..extras import missing
    from .session import LabError, LabSettings, Session

    def fail(message: str) -> int:
        print(f"sevensteps: error: {message}", file=sys.stderr)
        return 2

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return fail(str(missing("the lab", "Starlette and Uvicorn", "lab")))
    if not 0 <= args.port <= 65535:
        return fail(f"--port {args.port}: expected 0 to 65535")
    if args.host not in LOOPBACK:
        print(f"sevensteps: warning: listening on {args.host}: anyone who can reach this address and has the "
              "printed URL can drive the lab and read files it opens", file=sys.stderr)
    # The cnn learns with its recipe's Adam at 1e-3 (plain SGD at 0.1 sat at 50% through its first epochs).
    default_lr, optimizer = {"linear": (1.0, "sgd"), "cnn": (1e-3, "adam")}.get(args.model, (0.1, "sgd"))
    lr = args.lr if args.lr is not None else default_lr
    try:
        settings = LabSettings(data=args.data, digits=args.digits, model=args.model, lr=lr, optimizer=optimizer)
        session = Session(settings, out=Path(args.out), log=lambda m: print(m, file=sys.stderr))
        if args.open:
            session.open_run(Path(args.open))
    except LabError as error:
        return fail(str(error))
    from .server import serve

    try:
        serve(session, args.host, args.port, open_browser=not args.no_browser,
              announce=lambda line: print(line, flush=True))
    except OSError as error:
        session.close()
        return fail(f"cannot listen on {args.host}:{args.port} ({error.strerror or error})")
    except KeyboardInterrupt:
        session.close()
    return 0
