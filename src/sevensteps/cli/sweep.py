"""``sevensteps sweep``: a grid of training runs on Dask, locally or on a cluster, with a results table and report.

Standard library only at import time (``sevensteps --help`` stays instant); Dask is needed only to run.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import Any

from ..recipes import LOSSES
from .options import UsageError, add_data_options, positive_float, positive_int

GRID_FLAGS = ("model", "lr", "batch_size", "optimizer", "hidden", "epochs")
# What --resume takes from the sweep folder itself (a different grid would be a different sweep).
FIXED_ON_RESUME = (*GRID_FLAGS, "loss", "patience", "time_limit", "data", "valid", "digits")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep", help="train a grid of runs in parallel on Dask (learning rates, models, seeds...)",
        description="Train every combination of the given values, each as an ordinary run folder under one sweep "
        "folder, on a local Dask cluster (default) or an existing one (--scheduler); print the results table "
        "and write report.html. Needs the cluster extra: pip install \"sevensteps[cluster]\".")
    add_data_options(parser, defaults=False)
    lists = "; a comma list sweeps over each"
    parser.add_argument("--model", default=None, help=f"linear or mlp (default linear){lists}")
    parser.add_argument("--lr", default=None, help=f"learning rate (default: the model's recipe){lists}, e.g. 0.1,1,10")
    parser.add_argument("--batch-size", default=None, help=f"images per batch (default: the recipe){lists}")
    parser.add_argument("--optimizer", default=None, help=f"sgd, momentum or adam (default: the recipe){lists}")
    parser.add_argument("--hidden", default=None, help=f"hidden units of the mlp (default 30){lists}")
    parser.add_argument("--epochs", default=None, help=f"epochs (default: the recipe){lists}")
    parser.add_argument("--loss", choices=LOSSES, default=None,
                        help="default: mnist_loss for two classes, cross_entropy for more")
    parser.add_argument("--patience", type=positive_int, default=None,
                        help="stop a run when validation accuracy has not improved for this many epochs")
    parser.add_argument("--time-limit", type=positive_float, default=None, help="stop a run after this many seconds")
    parser.add_argument("--seeds", type=positive_int, default=1, help="repeat each configuration with seeds 0..N-1")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="worker processes of the local cluster (default: one per core)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="run on an existing Dask cluster (started with 'dask scheduler' and 'dask worker')")
    parser.add_argument("--out", default="sweeps", help="folder for sweep folders (default ./sweeps)")
    parser.add_argument("--resume", default=None, metavar="SWEEP_DIR",
                        help="finish an interrupted sweep: skip finished runs, continue the others from checkpoints")
    parser.add_argument("--yes", action="store_true", help="run a grid of more than 100 runs")
    parser.add_argument("--run-reports", action="store_true", help="also write each run's own report.html")
    parser.add_argument("--no-report", action="store_true", help="skip the sweep's report.html")
    parser.add_argument("--json", action="store_true", help="print one JSON object to stdout and nothing else")
    parser.set_defaults(run=run)


def grid_values(args: argparse.Namespace) -> dict[str, Any]:
    """The sweep() keywords that describe the grid (data defaults filled in)."""
    from .options import DATA_DEFAULTS

    values = {name: getattr(args, name) for name in (*GRID_FLAGS, "loss", "patience", "time_limit")}
    values.update({k: getattr(args, k) if getattr(args, k) is not None else v for k, v in DATA_DEFAULTS.items()})
    return values


def run(args: argparse.Namespace) -> int:
    from ..extras import MissingExtra
    from ..sweep import GridError, SweepError, sweep
    from .output import check_digits

    if args.resume is not None:
        given = [f"--{name.replace('_', '-')}" for name in FIXED_ON_RESUME if getattr(args, name) is not None]
        if given:
            raise UsageError(f"--resume continues {args.resume} with its own grid: {', '.join(given)} cannot "
                             "change (start a new sweep instead)")
        keywords: dict[str, Any] = {"resume": args.resume}
    else:
        keywords = {**grid_values(args), "seeds": args.seeds, "yes": args.yes}
        check_digits(keywords["digits"])
    progress = Progress(enabled=not args.json and sys.stderr.isatty())
    try:
        results = sweep(args.out, workers=args.workers, scheduler=args.scheduler, report=not args.no_report,
                        run_reports=args.run_reports, on_start=progress.start, on_done=progress.update, **keywords)
    except (GridError, SweepError, MissingExtra, ConnectionError) as error:
        raise UsageError(str(error)) from None
    except ValueError as error:  # a loss that does not fit the digits, a batch size the data cannot fill
        raise UsageError(str(error)) from error
    except KeyboardInterrupt:
        if progress.sweep_dir is not None:
            print(f"sevensteps: interrupted; finish with: sevensteps sweep --resume {progress.sweep_dir}",
                  file=sys.stderr)
            return 130
        raise
    finally:
        progress.close()
    # The command ends here. Python's last garbage collection at exit would walk every object Dask's imports
    # made (about 0.5 s measured under load); they live until exit anyway.
    gc.freeze()
    if args.json:
        print(json.dumps(results.to_dict()))
        return 0
    from ..sweep.results import format_table

    if results.skipped:
        print(f"{results.skipped} run(s) were already finished and not trained again")
    print(format_table(results.rows))
    print(results.verdict)
    print(f"Sweep saved in {results.sweep_dir}")
    if results.report is not None:
        print(f"Report: {results.report}")
    return 0


class Progress:
    """A tqdm bar over runs on a terminal's stderr (nothing otherwise); remembers the sweep folder."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar, self.sweep_dir = enabled, None, None

    def start(self, sweep_dir: Any, to_train: int, finished: int) -> None:
        self.sweep_dir = sweep_dir
        if self.enabled and to_train:
            from tqdm import tqdm

            self.bar = tqdm(total=to_train, unit="run", file=sys.stderr, desc="sweep")

    def update(self, run_dir: Any, summary: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{run_dir.name}: {100 * (summary['valid_accuracy'] or 0):.1f}%")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
