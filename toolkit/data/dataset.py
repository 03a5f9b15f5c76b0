"""Assemble the bars a run needs from its ``data`` params.

Asks the source named by ``data.source`` (see :mod:`toolkit.data.sources`) and the
``extra_sources`` files for the bars, derives synthetic proxies (labelled as such),
trims to the requested dates and aligns everything on one panel. The checks here run
before anything executes, so a typo in a symbol or a date range outside the data stops
the run with a message naming the field. Backtest, walk-forward, dry run and replay
all assemble their bars here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.data.cache import CACHE_SHA256
from toolkit.data.panel import dropped_bars, fingerprint, missing_bars, panel
from toolkit.data.proxies import leveraged_proxy
from toolkit.data.sources import BarRequest, registry
from toolkit.errors import ParamsError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.params.data import DataParams

__all__ = ["Dataset", "check_data_params", "gap_notes", "load_dataset"]

#: Slack for holidays when checking that a date range lies within the data.
_DATE_SLACK = dt.timedelta(days=7)
#: Dates listed in a note before "and N more".
_DATES_SHOWN = 10


@dataclass
class Dataset:
    """Bars of one run: per-symbol frames, the aligned panel and notes for the report."""

    frames: dict[str, pd.DataFrame]
    panel: pd.DataFrame
    fingerprint: str
    notes: list[str] = field(default_factory=list)
    proxies: dict[str, str] = field(default_factory=dict)
    #: sha256 of the local cache file each cached symbol was read from (see :mod:`toolkit.data.cache`).
    cache_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return list(self.frames)


def _resolve(path: str, base_dir: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base_dir / p


def _source_frames(data: DataParams, base_dir: Path, symbols: list[str]) -> dict[str, pd.DataFrame]:
    """Frames of ``symbols``: extra sources first for the symbols they list, then the main source."""
    out: dict[str, pd.DataFrame] = {}
    rest = list(symbols)
    for i, extra in enumerate(data.extra_sources):
        wanted = [s for s in rest if s in extra.symbols]
        if wanted:
            path = _resolve(extra.path, base_dir)
            if not path.exists():
                raise ParamsError(f"data.extra_sources.{i}.path", extra.path, "an existing CSV/Parquet file or folder")
            out.update(registry.get("csv").load(BarRequest(wanted, data.prices, path)))
            rest = [s for s in rest if s not in wanted]
    if rest:
        main_path = _resolve(data.path, base_dir) if data.path else None
        request = BarRequest(rest, data.prices, main_path, data.start, data.end, data.feed)
        out.update(registry.get(data.source).load(request))
    return {s: out[s] for s in symbols}


def _base_symbols(data: DataParams) -> list[str]:
    """Symbols to read from the source: the listed ones and the proxies' bases, not the proxies."""
    wanted = [s for s in data.symbols if s not in data.proxies]
    for spec in data.proxies.values():
        if spec.base not in wanted:
            wanted.append(spec.base)
    return wanted


def check_data_params(data: DataParams, *, base_dir: Path) -> None:
    """Raise ParamsError for unknown symbols, proxies on unknown bases or dates outside the data."""
    for name, spec in data.proxies.items():
        if spec.base in data.proxies:
            raise ParamsError(f"data.proxies.{name}.base", spec.base, "a symbol of the data, not another proxy")
    frames = _source_frames(data, base_dir, _base_symbols(data))
    first = min(f.index[0] for f in frames.values()).date()
    last = max(f.index[-1] for f in frames.values()).date()
    allowed = f"a date between {first} and {last} (the data's range)"
    if data.start and (data.start < first - _DATE_SLACK or data.start > last):
        raise ParamsError("data.start", str(data.start), allowed)
    if data.end and (data.end > last + _DATE_SLACK or data.end < first):
        raise ParamsError("data.end", str(data.end), allowed)


def load_dataset(data: DataParams, *, base_dir: Path, optional: list[str] | None = None) -> Dataset:
    """Load, derive proxies, trim and align the bars described by ``data`` params.

    ``optional`` symbols (a strategy's bond leg, say) are loaded when the source has
    them and otherwise left out with a note for the report.
    """
    notes: list[str] = []
    frames = _source_frames(data, base_dir, _base_symbols(data))
    for sym in list(optional or []) + list(data.optional_symbols):
        if sym in frames or sym in data.proxies:
            continue
        try:
            frames.update(_source_frames(data, base_dir, [sym]))
        except ParamsError:
            notes.append(f"{sym} is not in the data: the parts of the strategy that need it are switched off.")
    proxies: dict[str, str] = {}
    for name, spec in data.proxies.items():
        frames[name] = leveraged_proxy(frames[spec.base], spec.leverage, annual_cost_bps=spec.annual_cost_bps)
        label = f"synthetic proxy: {spec.leverage:g}x daily return of {spec.base}"
        if spec.annual_cost_bps:
            label += f" less {spec.annual_cost_bps:g} bps a year"
        proxies[name] = label
        notes.append(f"{name} is a {label}, not a traded fund's real prices.")
    start = pd.Timestamp(data.start, tz="UTC") if data.start else None
    end = pd.Timestamp(data.end, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(1) if data.end else None
    trimmed = {}
    for sym, full in frames.items():
        f = full.loc[start:end] if (start is not None or end is not None) else full
        if len(f):
            trimmed[sym] = f
        else:
            notes.append(f"{sym} has no bars between {data.start} and {data.end}: left out.")
    order = [s for s in data.symbols if s in trimmed] + [s for s in trimmed if s not in data.symbols]
    trimmed = {s: trimmed[s] for s in order}
    bars = panel(trimmed, calendar=order[0])
    notes += gap_notes(trimmed, bars, order[0])
    # A cached source's files are part of the fingerprint: a changed cache is changed data,
    # even where the run's window of it reads the same.
    files = {s: str(f.attrs[CACHE_SHA256]) for s, f in frames.items() if CACHE_SHA256 in f.attrs}
    return Dataset(trimmed, bars, fingerprint(trimmed, files=files), notes, proxies, files)


def _dates(index: pd.DatetimeIndex) -> str:
    shown = ", ".join(str(ts.date()) for ts in index[:_DATES_SHOWN])
    more = len(index) - _DATES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def gap_notes(frames: dict[str, pd.DataFrame], bars: pd.DataFrame, calendar: str) -> list[str]:
    """Warnings naming each symbol's missing bars and the bars the calendar left out.

    The panel follows ``calendar``'s sessions. A symbol without a bar on one of them,
    after its first bar, is held there by the strategies' gap policy (its indicators
    skip the day, its position stays as on its last bar, a session trades the others):
    the report must say so, with the dates, so a gap in a file is never silent.
    """
    notes = []
    for sym, when in missing_bars(bars).items():
        days = "1 session" if len(when) == 1 else f"{len(when)} sessions"
        notes.append(
            f"Warning: {sym} has no bar on {days} of the calendar ({calendar}): {_dates(when)}. "
            f"Its indicators skip the missing days and its position is held through them "
            f"(no order for {sym} on those days)."
        )
    first, last = bars.index[0], bars.index[-1]
    for sym, when in dropped_bars(frames, bars.index).items():
        inside = when[(when > first) & (when < last)]
        if len(inside):
            days = "1 date" if len(inside) == 1 else f"{len(inside)} dates"
            notes.append(
                f"Warning: {sym} has bars on {days} the calendar ({calendar}) lacks: {_dates(inside)}. "
                f"The panel follows {calendar}'s sessions, so those bars are left out."
            )
        outside = len(when) - len(inside)
        if outside:
            notes.append(
                f"{sym} has {outside} bar(s) outside {calendar}'s {first.date()} to {last.date()}: "
                f"left out (the panel follows {calendar}'s sessions)."
            )
    return notes
