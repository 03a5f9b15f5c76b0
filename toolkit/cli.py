"""The ``toolkit`` command.

    toolkit run backtest --params params/backtest/sma_crossover.yaml --set strategy_params.fast=10
    toolkit runs
    toolkit strategies

Errors a user can fix (bad params, bad data) print one line naming the field, the
value and what is allowed, and exit with status 2 before anything runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from toolkit.errors import ToolkitError


def _cmd_run(args: argparse.Namespace) -> int:
    from toolkit.runner import run_notebook

    from pathlib import Path

    rec = run_notebook(args.notebook, args.params, args.set, outputs_root=Path(args.outputs) if args.outputs else None)
    if rec.status != "completed":
        print(f"run {rec.run_id} {rec.status}: {rec.error}", file=sys.stderr)
    print(rec.run_dir)
    return 0 if rec.status == "completed" else 1


def _cmd_runs(args: argparse.Namespace) -> int:
    import pandas as pd

    from toolkit.runner import list_runs

    df = list_runs()
    if args.notebook:
        df = df[df["notebook"] == args.notebook]
    if df.empty:
        print("no archived runs under outputs/")
        return 0
    df = df.head(args.limit).drop(columns=["error"])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


def _cmd_strategies(args: argparse.Namespace) -> int:
    from toolkit.strategies import available

    for name, cls in available().items():
        print(f"{name}: {cls.description}")
        for fname, f in cls.Params.model_fields.items():
            desc = f" - {f.description}" if f.description else ""
            print(f"    {fname} = {f.default!r}{desc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="toolkit", description="Research-to-live trading toolkit")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute a notebook with papermill and archive the run")
    r.add_argument("notebook", help="notebook name, e.g. backtest")
    r.add_argument("--params", help="params YAML file")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a dotted key (value read as YAML)")
    r.add_argument("--outputs", help="archive root (default: outputs/ of the project)")
    r.set_defaults(func=_cmd_run)
    rs = sub.add_parser("runs", help="list archived runs, newest first")
    rs.add_argument("--notebook", help="only runs of this notebook")
    rs.add_argument("--limit", type=int, default=20)
    rs.set_defaults(func=_cmd_runs)
    st = sub.add_parser("strategies", help="list strategies with their parameters and defaults")
    st.set_defaults(func=_cmd_strategies)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `toolkit strategies | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
