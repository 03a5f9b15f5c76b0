"""Fuzzing bad input through the real entry point: ``toolkit run`` on malformed params and bar files.

Issue 9, point 10. A seeded generator (deterministic: the same cases on every run, and a
failing case is reproduced by its number) writes malformed params files (wrong types,
out-of-range numbers, unknown keys and strategies, another strategy's parameters,
impossible dates, YAML syntax errors, text that is not UTF-8 ...) and malformed bar files
(CSV and Parquet: broken prices, dates, order, headers, encodings ...), each one certainly
invalid by construction. Every case goes through ``toolkit.cli.main(["run", NOTEBOOK,
"--params", FILE])`` in process, as the console script runs it, and must end with exit
status 2, stdout empty, stderr ONE line starting with ``error:`` (no traceback), no run
directory and no ledger file.

Size: ``TOOLKIT_FUZZ_EXAMPLES`` cases of each kind (default 1,000 params files and 1,000
bar files per ``make test``); ``TOOLKIT_FUZZ_EXAMPLES=10000`` for a longer run,
``TOOLKIT_FUZZ_SEED`` to draw another set. ``TOOLKIT_COLD_KERNEL=1`` keeps ``toolkit
run`` from starting a notebook kernel: validation runs before papermill either way,
and a kernel per refused case would only cost time.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import string
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from toolkit import params as P
from toolkit.cli import main
from toolkit.data import load_sample
from toolkit.errors import ToolkitError, field_bounds
from toolkit.strategies import available

N_EXAMPLES = int(os.environ.get("TOOLKIT_FUZZ_EXAMPLES", "1000"))
SEED = int(os.environ.get("TOOLKIT_FUZZ_SEED", "20260901"))

SMA = {"fast": 10, "slow": 50}
#: A valid params mapping per notebook; every params case is one of these, broken.
BASES: dict[str, dict[str, Any]] = {
    "backtest": {
        "strategy": "sma_crossover", "strategy_params": SMA,
        "data": {"source": "sample", "symbols": ["NASDAQ", "SP500"], "start": "2010-01-01", "end": "2018-12-31"},
        "initial_cash": 100000, "fees_bps": 10, "benchmark": "SP500",
    },
    "walk_forward": {
        "strategy": "sma_crossover", "grid": {"fast": [5, 10], "slow": {"start": 50, "stop": 100, "step": 50}},
        "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2010-01-01", "end": "2018-12-31"},
        "in_sample": 500, "out_of_sample": 250, "costs": {"fees_bps": 5},
    },
    "daily_dry_run": {
        "strategy": "sma_crossover", "strategy_params": SMA,
        "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2015-01-01"},
        "as_of": "2018-06-29", "costs": {"fees_bps": 5, "fixed_fee": 1}, "guards": {"daily_loss_limit": 0.1},
    },
}


# ----------------------------------------------------------------------- helpers


@dataclass
class Case:
    """One malformed input: what the params file holds (a mapping or raw bytes) and how it was made."""

    notebook: str
    content: dict[str, Any] | bytes
    how: str
    overrides: tuple[str, ...] = ()


def word(rng: random.Random, n: int = 6) -> str:
    """A made-up name no params model or strategy knows (``zq`` cannot start a known one)."""
    return "zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def optional_of(ann: Any) -> Any:
    """``X`` for ``X | None``; ``ann`` itself otherwise (``list[str]`` stays a list)."""
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return ann


def leaves(model: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every settable field of a params model, nested models followed: (path, annotation)."""
    out = []
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        ann = info.annotation
        target = optional_of(ann)
        if isinstance(target, type) and hasattr(target, "model_fields"):
            out.append((path, target))  # the block itself (wrong type) ...
            out.extend(leaves(target, path))  # ... and each of its fields
        else:
            out.append((path, ann))
    return out


def bad_value(rng: random.Random, model: Any, path: tuple[str, ...], ann: Any) -> Any:
    """A value the field at ``path`` certainly refuses (by its type, bounds or choices); None if unsure."""
    base = optional_of(ann)
    origin = typing.get_origin(base)
    bounds = field_bounds(model, path)
    if base is bool:
        return rng.choice(["maybe", "yes please", 2, [True], {"a": 1}])
    if base in (int, float):
        options: list[Any] = [word(rng), [1, 2], {"x": 1}]
        if base is int:
            options.append(rng.choice([1.5, 2.25, -0.5]))
        for op, sign in (("ge", -1), ("gt", -1), ("le", 1), ("lt", 1)):
            if op in bounds:
                step = rng.choice([0, 1, 10, 1e6]) if op in ("gt", "lt") else rng.choice([1, 10, 1e6])
                edge = bounds[op] + sign * step
                options.append(int(edge) if base is int and float(edge).is_integer() else edge)
        return rng.choice(options)
    if base is str:
        return rng.choice([[word(rng)], {"a": word(rng)}, 12, 3.5, True])
    if base is dt.date:
        return rng.choice(["2018-02-30", "2018-13-01", "yesterday", "18/06/2018 x", [2018, 1, 2], {"y": 2018}])
    if base is dt.timedelta:
        return rng.choice(["soon", [1], {"m": 5}])
    if origin is typing.Literal:
        return rng.choice([word(rng), 7, [typing.get_args(base)[0]]])
    if origin is list:
        return rng.choice([7, 2.5, {"a": 1}, True])
    if origin is dict:
        return rng.choice([7, "text", [1, 2], True])
    if isinstance(base, type) and hasattr(base, "model_fields"):
        return rng.choice([7, "text", [1, 2], True])
    return None


def setting(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    return P.apply_overrides(raw, {".".join(path): value})


def flow(value: Any) -> str:
    """``value`` as a one-line YAML value for ``--set``."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


# ---------------------------------------------------------------- params mutations


def wrong_field(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str] | None:
    model = P.model_for(nb)
    path, ann = rng.choice(leaves(model))
    value = bad_value(rng, model, path, ann)
    if value is None:
        return None
    return setting(raw, path, value), f"{'.'.join(path)}={value!r}"


def unknown_key(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str]:
    where = rng.choice(["", "data.", "strategy_params.", "costs.", "guards.", "data.proxies.QQQ."])
    if where and nb == "walk_forward" and where == "strategy_params.":
        where = ""
    key = where + word(rng)
    value = rng.choice([1, "x", [1], {"a": 1}, None, True])
    if where == "data.proxies.QQQ.":
        raw = setting(raw, ("data", "proxies", "QQQ"), {"base": "NASDAQ", "leverage": 1})
    return P.apply_overrides(raw, {key: value}), f"unknown key {key}"


def unknown_strategy(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str]:
    name = rng.choice([word(rng), "SMA_crossover", "sma-crossover", ""])
    return {**raw, "strategy": name}, f"strategy {name!r}"


def other_strategys_params(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str]:
    """Switch ``strategy`` and keep SMA's fast/slow (which the other strategies do not take)."""
    others = [n for n, cls in available().items() if not {"fast", "slow"} <= set(cls.Params.model_fields)]
    name = rng.choice(others)
    out = {**raw, "strategy": name, "strategy_params": dict(SMA)}
    out.pop("grid", None)
    return out, f"strategy {name} with fast/slow"


def sma_order(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str]:
    slow = rng.randint(2, 300)
    fast = slow + rng.randint(0, 50)
    if nb == "walk_forward":
        return {**raw, "grid": {"fast": [fast], "slow": [slow]}}, f"grid fast {fast} >= slow {slow}"
    return {**raw, "strategy_params": {"fast": fast, "slow": slow}}, f"fast {fast} >= slow {slow}"


def unknown_symbol(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str]:
    sym = rng.choice([word(rng).upper(), "NASDAQ ", "SP 500", "DOW"])
    symbols = [*raw["data"]["symbols"], sym]
    return setting(raw, ("data", "symbols"), symbols), f"symbol {sym!r}"


def bad_dates(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str]:
    first = dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 15000))
    kind = rng.choice(["reversed", "equal", "after data", "before data"])
    if kind == "reversed":
        d = {"start": first + dt.timedelta(days=rng.randint(1, 3000)), "end": first}
    elif kind == "equal":
        d = {"start": first, "end": first}
    elif kind == "after data":
        d = {"start": dt.date(2019, 6, 1) + dt.timedelta(days=rng.randint(0, 3000)), "end": None}
    else:
        d = {"start": None, "end": dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 2000))}
    data = {**raw["data"], **{k: v.isoformat() if v else None for k, v in d.items()}}
    return {**raw, "data": data}, f"dates {kind} {d}"


def bad_benchmark(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str] | None:
    if nb == "daily_dry_run":
        return None
    sym = rng.choice(["VIX", word(rng).upper(), "nasdaq"])
    return {**raw, "benchmark": sym}, f"benchmark {sym}"


def bad_source(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str]:
    kind = rng.choice(["csv without path", "missing path", "path with sample", "unknown source"])
    data = dict(raw["data"])
    if kind == "csv without path":
        data["source"] = "csv"
    elif kind == "missing path":
        data.update(source="csv", path=f"/nonexistent/{word(rng)}.csv")
    elif kind == "path with sample":
        data["path"] = "params"
    else:
        data["source"] = word(rng)
    return {**raw, "data": data}, kind


def dry_run_only(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str] | None:
    if nb != "daily_dry_run":
        return None
    kind = rng.choice(["as_of", "mode", "max_data_age", "db_url"])
    if kind == "as_of":
        # Before the data, before data.start or after data.end. (Not bad input: a day after the last
        # bar with no data.end, which is stale data the session's guard refuses and archives as failed,
        # and a weekend or holiday, on which a scheduled dry run has no session to trade.)
        day = rng.choice(["1980-06-02", "2014-12-31", "after end"])
        if day == "after end":
            return setting(raw, ("data", "end"), "2017-12-29"), "as_of after data.end"
        return {**raw, "as_of": day}, f"as_of {day}"
    if kind == "mode":
        return {**raw, "mode": rng.choice(["paper", "online_live"])}, "mode not offline"
    if kind == "max_data_age":
        return setting(raw, ("guards", "max_data_age"), "00:15:00"), "max_data_age"
    return {**raw, "db_url": "postgresql://me:secret@db/ledger"}, "db_url with a password"


def walk_forward_only(rng: random.Random, nb: str, raw: dict) -> tuple[dict, str] | None:
    if nb != "walk_forward":
        return None
    kind = rng.choice(["empty grid", "grid unknown", "objective", "windows", "pbo odd", "heatmap", "step"])
    if kind == "empty grid":
        return {**raw, "grid": {}}, kind
    if kind == "grid unknown":
        return {**raw, "grid": {word(rng): [1, 2]}}, kind
    if kind == "objective":
        return {**raw, "objective": rng.choice([word(rng), "sharpe +", "sharpe - - ", "1/"])}, kind
    if kind == "windows":
        return {**raw, "in_sample": rng.randint(3000, 9000)}, kind  # longer than the 2,263 bars
    if kind == "pbo odd":
        return {**raw, "pbo_splits": rng.choice([3, 5, 7, 23])}, kind
    if kind == "heatmap":
        return {**raw, "heatmap": rng.choice([["fast"], ["fast", "fast"], ["fast", word(rng)]])}, kind
    return {**raw, "step": rng.choice([1, 100, 251])}, kind


def not_a_mapping(rng: random.Random, nb: str, raw: dict) -> tuple[bytes, str]:
    text = rng.choice(["- a\n- b\n", "just text\n", "42\n", "[1, 2, 3]\n", "~\n---\n- 1\n"])
    if text.startswith("~"):
        text = "- 1\n"
    return text.encode(), f"not a mapping {text!r}"


def non_text_keys(rng: random.Random, nb: str, raw: dict) -> tuple[bytes, str]:
    body = yaml.safe_dump(raw, sort_keys=False)
    extra = rng.choice(["1: 2\n", "? [a, b]\n: 3\n", "2018-01-01: x\n", "true: 1\n", "null: 1\n"])
    return (body + extra).encode(), f"non-text key {extra!r}"


#: YAML that no parser accepts, inserted on a line of its own.
YAML_BREAKERS = (
    "{", "[a, b", "key: 'unterminated", 'key: "unterminated', "a: b: c", "\tindented: with a tab",
    "- item after a mapping", "*undefined_alias", "key: [1, 2}", "!!python/object:os.system {}",
    "  over: indented", "key: @reserved", "key: `backtick", "%YAML 9.9\n---", "? ? ?", "key: \x07bell",
    "key: {a: 1, a}", "]",
)


def broken_yaml(rng: random.Random, nb: str, raw: dict) -> tuple[bytes, str]:
    lines = yaml.safe_dump(raw, sort_keys=False).splitlines()
    bad = rng.choice(YAML_BREAKERS)
    at = rng.randint(1, len(lines))
    lines.insert(at, bad)
    return ("\n".join(lines) + "\n").encode(), f"YAML {bad!r} at line {at + 1}"


def not_utf8(rng: random.Random, nb: str, raw: dict) -> tuple[bytes, str]:
    body = yaml.safe_dump(raw, sort_keys=False).encode()
    at = rng.randint(0, len(body))
    junk = bytes(rng.randrange(128, 256) for _ in range(rng.randint(0, 8)))
    return body[:at] + b"\xff" + junk + body[at:], "bytes that are not UTF-8"  # 0xff never occurs in UTF-8


PARAMS_MUTATIONS: tuple[Callable[..., Any], ...] = (
    wrong_field, wrong_field, wrong_field, unknown_key, unknown_strategy, other_strategys_params, sma_order,
    unknown_symbol, bad_dates, bad_benchmark, bad_source, dry_run_only, walk_forward_only, not_a_mapping,
    non_text_keys, broken_yaml, not_utf8,
)
#: Mutations whose result is still a mapping (so another mutation can be stacked on it).
STACKABLE = (wrong_field, unknown_key, unknown_symbol, bad_dates, bad_source)


def params_case(rng: random.Random) -> Case:
    nb = rng.choice(list(BASES))
    raw: dict[str, Any] = BASES[nb]
    hows = []
    for n in range(rng.choice([1, 1, 1, 2, 3])):
        options = PARAMS_MUTATIONS if n == 0 else STACKABLE
        got = None
        while got is None:
            try:
                got = rng.choice(options)(rng, nb, raw)
            except (TypeError, KeyError, ToolkitError):  # an earlier mutation broke what this one edits
                if n == 0:
                    raise
                break
        if got is None:
            break
        content, how = got
        hows.append(how)
        if isinstance(content, bytes):
            return Case(nb, content, "; ".join(hows))
        raw = content
    changed = [k for k, v in raw.items() if k not in BASES[nb] or BASES[nb][k] != v]
    if len(changed) == 1 and rng.random() < 0.25:  # the same mistake given with --set instead of in the file
        key = changed[0]
        in_file = {k: v for k, v in raw.items() if k != key}
        if key in BASES[nb]:
            in_file[key] = BASES[nb][key]
        return Case(nb, in_file, "; ".join(hows) + " (via --set)", (f"{key}={flow(raw[key])}",))
    return Case(nb, raw, "; ".join(hows))


# ------------------------------------------------------------------ bar mutations


HEADER = ["Date", "Open", "High", "Low", "Close", "Volume"]
BAR_KINDS = (
    "high below", "non-positive", "text price", "infinite", "negative volume", "bad date", "no date",
    "out of order", "duplicate stamp", "no close", "close renamed", "no header", "one column",
    "same column twice", "partial ohlc", "ragged row", "open quote", "empty", "header only",
    "not utf8", "mixed offsets", "naive intraday", "missing price", "unknown symbol", "after the data",
    "parquet broken", "parquet text price", "parquet no close",
)


@pytest.fixture(scope="module")
def base_bars() -> list[list[str]]:
    """200 real daily NASDAQ bars (the bundled sample) as the rows of a user's CSV, header first.

    Cases edit these cells as text (as a user's editor or a broken download would), which
    also keeps a case far cheaper than a DataFrame round trip.
    """
    bars = load_sample(["NASDAQ"], prices="raw")["NASDAQ"].loc["2016-01-01":].iloc[:200]
    rows = [[ts.strftime("%Y-%m-%d"), *(repr(float(v)) for v in values)]
            for ts, values in zip(bars.index, bars.to_numpy(), strict=True)]
    return [HEADER, *rows]


def bar_case(rng: random.Random, base: list[list[str]], folder: Path) -> tuple[Path, str, list[str]]:
    """Write one malformed bar file; return its path, how it was broken and the symbols to ask for."""
    t = [list(r) for r in base]
    stem = "BARS"  # one file, rewritten per case: thousands of files would cost more than the checks
    row = rng.randrange(2, len(t) - 1)  # a data row (row 0 is the header), not the first or the last
    col = rng.randrange(1, 5)  # one of open, high, low, close
    kind = rng.choice(BAR_KINDS)
    symbols = [stem]

    def drop(*names: str) -> None:
        keep = [i for i, h in enumerate(t[0]) if h not in names]
        t[:] = [[r[i] for i in keep] for r in t]

    if kind == "high below":
        t[row][2] = repr(min(float(t[row][1]), float(t[row][4])) * rng.uniform(0.5, 0.999))
    elif kind == "non-positive":
        t[row][col] = rng.choice(["0", "-1", "-" + t[row][col]])
    elif kind == "text price":
        t[row][col] = rng.choice(["abc", "1.2.3", "12,5", "$100", "--"])
    elif kind == "infinite":
        t[row][col] = rng.choice(["inf", "-inf", "1e400"])
    elif kind == "negative volume":
        t[row][5] = str(-rng.randint(1, 10**9))
    elif kind == "bad date":
        t[row][0] = rng.choice(["2018-02-30", "yesterday", "13/45/2018", "2018-1-1x", "0"])
    elif kind == "no date":
        t[row][0] = ""
    elif kind == "out of order":
        j = rng.randrange(row + 1, len(t))
        t[row], t[j] = t[j], t[row]
    elif kind == "duplicate stamp":  # same session twice with other prices (not a re-download)
        t[row + 1][0] = t[row][0]
        t[row + 1][4] = t[row + 1][2] = repr(max(float(t[row][2]), float(t[row][4])) * 1.001 + 0.01)
    elif kind in ("no close", "parquet no close"):
        drop("Close")
        symbols = [rng.choice([stem, "Volume", "Open", "High"])]
    elif kind == "close renamed":
        t[0][4] = rng.choice(["Clsoe", "Last Price", "px", "C"])
    elif kind == "same column twice":
        t = [[*r, r[4]] for r in t]
        t[0][-1] = "close "
    elif kind == "partial ohlc":
        drop(*rng.sample(["Open", "High", "Low"], rng.choice([1, 2])))
    elif kind == "mixed offsets":
        t[row][0] += "T16:00:00-05:00"
    elif kind == "naive intraday":
        t[row][0] += " 10:30"
    elif kind == "missing price":
        t[row][col] = ""
    elif kind == "unknown symbol":
        symbols = [word(rng).upper()]
    elif kind == "ragged row":
        t[row] += ["1", "2"]
    elif kind == "open quote":
        t[row][0] = '"' + t[row][0]
    elif kind == "no header":
        t = t[1:]
    elif kind == "one column":
        t = [r[:1] for r in t]
    elif kind == "empty":
        t = []
    elif kind == "header only":
        t = t[:1]

    if kind.startswith("parquet"):
        path = folder / f"{stem}.parquet"
        frame = pd.DataFrame(t[1:], columns=t[0])
        numeric = [c for c in frame.columns if c != "Date"]
        frame[numeric] = frame[numeric].astype(float)
        if kind == "parquet text price":
            name = HEADER[col]
            frame[name] = frame[name].astype(str)
            frame.loc[row - 1, name] = "abc"
        frame.to_parquet(path)
        if kind == "parquet broken":
            data = path.read_bytes()
            path.write_bytes(data[: rng.randrange(0, len(data) - 8)])
        return path, kind, symbols

    path = folder / f"{stem}.csv"
    raw = "".join(",".join(r) + "\n" for r in t).encode()
    if kind == "not utf8":
        at = rng.randrange(len(",".join(t[0])) + 1, len(raw))
        raw = raw[:at] + b"\xff\xfe" + raw[at:]
    path.write_bytes(raw)
    return path, kind, symbols


def bars_params(path: Path, symbols: list[str], kind: str, nb: str) -> dict[str, Any]:
    data: dict[str, Any] = {"source": "csv", "path": str(path), "symbols": symbols}
    if kind == "after the data":
        data["start"] = "2030-01-02"
    out: dict[str, Any] = {"strategy": "sma_crossover", "data": data}
    if nb == "walk_forward":
        return {**out, "grid": {"fast": [5], "slow": [20]}, "in_sample": 100, "out_of_sample": 50}
    return {**out, "strategy_params": {"fast": 5, "slow": 20}}


# -------------------------------------------------------------------- the check


@pytest.fixture
def refused(toolkit_cli, monkeypatch, tmp_path) -> Callable[[Case, Path], None]:
    """Run one case through ``toolkit run`` and assert it was refused cleanly."""
    monkeypatch.setenv("TOOLKIT_COLD_KERNEL", "1")
    outputs = tmp_path / "outputs"
    ledger = tmp_path / "ledger.sqlite"

    def check(case: Case, file: Path) -> None:
        if isinstance(case.content, bytes):
            file.write_bytes(case.content)
        else:
            file.write_text(yaml.safe_dump(case.content, sort_keys=False, allow_unicode=True))
        args = ["run", case.notebook, "--params", str(file), "--outputs", str(outputs)]
        for item in case.overrides:
            args += ["--set", item]
        done = toolkit_cli(args, f"sqlite:///{ledger}")
        where = f"{case.notebook}: {case.how}\n  stderr: {done.stderr!r}"
        assert done.returncode == 2, where
        assert done.stdout == "", where
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, where
        assert "Traceback" not in done.stderr and "Input should" not in done.stderr, where
        assert not outputs.exists(), f"a run directory was created: {where}"
        assert not ledger.exists(), f"the ledger was written: {where}"

    return check


def test_the_unbroken_bases_are_valid(tmp_path, base_bars) -> None:
    """Each case differs from one of these by its mutations only, so the mutation is what is refused."""
    for nb, raw in BASES.items():
        P.validate(nb, raw)
    path = tmp_path / "BARS.csv"
    path.write_text("".join(",".join(r) + "\n" for r in base_bars))
    pd.DataFrame(base_bars[1:], columns=HEADER).astype(dict.fromkeys(HEADER[1:], float)).to_parquet(
        tmp_path / "BARS.parquet"
    )
    for nb in BASES:
        P.validate(nb, bars_params(path, ["BARS"], "valid", nb))
        P.validate(nb, bars_params(tmp_path / "BARS.parquet", ["BARS"], "valid", nb))


def test_malformed_params_files_are_refused_in_one_line(refused, tmp_path) -> None:
    rng = random.Random(SEED)
    for n in range(N_EXAMPLES):
        refused(params_case(rng), tmp_path / "params.yaml")


def test_malformed_bar_files_are_refused_in_one_line(refused, tmp_path, base_bars) -> None:
    rng = random.Random(SEED + 1)
    folder = tmp_path / "bars"
    folder.mkdir()
    for n in range(N_EXAMPLES):
        path, kind, symbols = bar_case(rng, base_bars, folder)
        nb = rng.choice(list(BASES))
        how = f"bar file case {n}: {kind}"
        refused(Case(nb, bars_params(path, symbols, kind, nb), how), tmp_path / "params.yaml")
        path.unlink()
