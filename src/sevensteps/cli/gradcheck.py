"""``sevensteps gradcheck``: gradients by nudging each weight vs by backpropagation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .options import UsageError, add_one_batch_options, positive_float


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("gradcheck", help="gradients by nudging each weight vs by backpropagation",
                                   description="The seed's claim that calculus is 'just a performance "
                                   "optimization', measured on one batch for all 785 weights.")
    add_one_batch_options(parser, "images in the batch", "random seed of the weights")
    parser.add_argument("--eps", type=positive_float, default=1e-6, help="nudge size (default 1e-6)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", default=None, metavar="PNG", help="also draw nudging vs backprop to this file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..digits import gradient_check
    from ..models import linear
    from ..random import Generator
    from .output import load_data

    if args.plot:
        from .. import plots  # noqa: F401  (before the work: without the plots extra, say so now)
    splits = load_data(args)
    if len(splits.classes) != 2:
        raise UsageError("gradcheck uses the seed's linear model with one output: choose two --digits")
    result = gradient_check(splits, linear(1, Generator(args.seed)), "mnist_loss", args.batch_size, args.eps)
    batch = min(args.batch_size, len(splits.train))
    if args.plot:
        from ..backend import xp
        from ..plots import gradcheck_scatter, save_png

        save_png(gradcheck_scatter(xp.concatenate([g.ravel() for g in result.numeric]),
                                   xp.concatenate([g.ravel() for g in result.backprop])), Path(args.plot))
    if args.json:
        print(json.dumps({"weights": result.count, "batch": batch, "max_abs_diff": result.max_abs_error,
                          "max_rel_diff": result.max_rel_error, "speedup": result.speedup,
                          "numeric_seconds": result.numeric_seconds, "backprop_seconds": result.backprop_seconds}))
        return 0
    print(f"Gradient of the loss on one batch of {batch} images, for all {result.count} weights of the linear model:")
    print(f"  by nudging each weight (2 x {result.count} forward passes): {result.numeric_seconds:.3f}s")
    print(f"  by backpropagation (1 forward + 1 backward pass):      {result.backprop_seconds * 1000:.2f}ms")
    print(f"  largest difference: {result.max_abs_error:.2e} (relative {result.max_rel_error:.2e})")
    print(f"  backpropagation was {result.speedup:,.0f}x faster: calculus is 'just a performance optimization'")
    return 0
