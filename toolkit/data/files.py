"""Load bars from CSV or Parquet files, in whatever layout their publisher chose.

Files are read as their publishers wrote them (no pre-cleaning step to forget), and every
symbol ends as a canonical frame checked by :func:`~toolkit.data.validate.validate_bars`.

Layouts recognised (header names in any case, stray spaces ignored, ``_``/``-`` read as
spaces, so ``Adj Close ``, ``adj_close`` and ``ADJ CLOSE`` are one column):

* **single symbol** -- a date column plus ``open high low close volume`` (any subset
  that has ``close`` or ``adj close``; without open/high/low the bars are close-only).
  The symbol is the file stem. Extra columns (``Dividends``, ``Stock Splits``,
  ``dividend``, ``split``) are ignored: a split column is NEVER re-applied, because
  vendors such as zipline already split-adjust their OHLC while the column still shows
  the ratio.
* **long** -- a ``ticker`` (or ``symbol``) column: one frame per ticker. When raw and
  adjusted columns sit side by side (``adj_open`` ... ``adj_volume``, the zipline quandl
  sample), ``prices`` picks the set.
* **wide** -- a date column first and one close column per symbol (no ``close`` or
  ``ticker`` header): close-only bars per column, named as spelled in the header.
  Empty cells (before a symbol was listed, or gaps) are dropped per symbol; a column
  with no price at all is skipped with a warning.

A header that names a bar field (``Open``, ``High``, ``Low``, ``Volume``, ``Adj Volume``,
``Dividends`` ...) is never a symbol: a file with such columns but no ``close`` or ``adj
close`` is a bar file missing its close, refused with the columns it has, and never read
as a wide file that would trade ``Volume`` as a price. The one exception keeps real
tickers: a short all-capitals header (``LOW`` for Lowe's, ``OPEN`` for Opendoor) in a
table that also has a column no field is called (``DT``) is a wide table's symbol.

Symbols are matched to what the files hold without regard to case (``spy.csv`` is
``SPY``); the result is keyed by the spelling asked for.

``prices="adjusted"`` on a Yahoo-style file with ``Adj Close`` scales open, high, low and
close by ``Adj Close / Close`` (volume unchanged). A file without adjusted columns loads
the same under either setting: it holds one price set and does not say which.

Timestamps: ISO dates, US ``m/d/Y`` dates with or without a time (``2/22/2013 12:00:00
AM``), and timestamps with a UTC offset. Rows that are all at midnight (in the file's own
offset) are daily bars and get stamped at midnight UTC of the session date; other rows are
intraday and keep their instant, converted to UTC. Naive intraday times are refused:
whether ``09:30`` means New York or UTC is not ours to guess.

Cleaning, each with a warning naming the symbol and count: rows whose prices are all
empty (a dividend-only row) are dropped; exact copies of earlier rows (overlapping
downloads) are dropped; re-downloaded bars with the same timestamp and prices but a
different volume (Yahoo writes the first bar of a request window with volume 0) keep
the row with the largest volume. Rows may be in ascending or descending order; any other
order is an error naming the first row out of place.

A headerless ``date,return`` file (zipline's ``spy_benchmark_returns.csv``) is a returns
series, not bars: loading it as a single file raises ``ParamsError`` saying so; inside a
folder it is skipped with a warning. We do not invent a price index from it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.data.validate import (
    CANONICAL_FIELDS,
    PRICE_FIELDS,
    adjust_to_close,
    bar_frame,
    bar_index,
    check_prices,
    drop_duplicate_rows,
    to_float,
    validate_bars,
)
from toolkit.errors import DataError, ParamsError

SUFFIXES: tuple[str, ...] = (".csv", ".txt", ".parquet", ".pq")
_DATE_NAMES = ("date", "datetime", "timestamp", "time", "dt")
_SYMBOL_NAMES = ("ticker", "symbol")
_NAIVE_FORMATS = (
    "ISO8601",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
)
#: Folded headers that name a bar field or a vendor's extra column: never a symbol.
_FIELD_NAMES = frozenset({
    "open", "high", "low", "close", "volume", "adj open", "adj high", "adj low", "adj close",
    "adj volume", "adjusted close", "adjusted", "price", "last", "vwap", "dividends", "dividend",
    "stock splits", "split", "splits", "split ratio", "split factor", "ex dividend", "open interest",
    "openinterest", "turnover", "trades", "count", "bid", "ask",
})
_CLOSE_NAMES = ("close", "adj close")
_OFFSET = re.compile(r"(?<=\d)\s*(Z|[+-]\d{2}:?\d{2})$")
_OFFSET_AFTER_TIME = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})$"
_MAX_LISTED = 30

__all__ = ["SUFFIXES", "load_files", "load_files_with_paths"]

Builder = Callable[[], pd.DataFrame]


class _NotBars(Exception):
    """The file is readable but holds no price bars (e.g. a returns series)."""


def load_files(
    path: str | Path, symbols: list[str] | None = None, *, prices: str = "raw"
) -> dict[str, pd.DataFrame]:
    """Return canonical bars per symbol from one CSV/Parquet file or a folder of them.

    ``path`` is a ``.csv``/``.txt``/``.parquet`` file or a folder (its files, not its
    subfolders, read in name order). ``symbols`` restricts and orders the result; by
    default every symbol found is returned, in file order. ``prices`` is ``raw`` or
    ``adjusted`` (see the module docstring). Only the requested symbols are parsed and
    validated, so a bad column in a wide file does not block its neighbours.
    """
    return {sym: frame for sym, (_file, frame) in load_files_with_paths(path, symbols, prices=prices).items()}


def load_files_with_paths(
    path: str | Path, symbols: list[str] | None = None, *, prices: str = "raw"
) -> dict[str, tuple[Path, pd.DataFrame]]:
    """:func:`load_files`, each symbol's bars with the file they came from (a report names its source)."""
    check_prices(prices)
    root = Path(path)
    allowed_path = "an existing CSV/Parquet file or folder"
    if not root.exists() or (root.is_file() and root.suffix.lower() not in SUFFIXES):
        raise ParamsError("data.path", str(path), allowed_path)
    files = [root] if root.is_file() else sorted(
        f for f in root.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES
    )
    if not files:
        raise ParamsError("data.path", str(path), allowed_path + " (this folder has none)")

    sources: dict[str, tuple[Path, Builder]] = {}
    clashes: dict[str, list[Path]] = {}
    unusable: dict[str, DataError] = {}
    for file in files:
        try:
            table = _read_table(file)
            builders, problems = _split_symbols(file, table, prices)
        except _NotBars as exc:
            if root.is_file():
                raise ParamsError("data.path", str(path), f"a file of price bars; {exc}") from None
            warnings.warn(f"{file.name}: skipped, {exc}", stacklevel=2)
            continue
        unusable.update(problems)
        for sym, build in builders.items():
            if sym in sources:
                clashes.setdefault(sym, [sources[sym][0]]).append(file)
            else:
                sources[sym] = (file, build)

    if root.is_file() and not sources and unusable:  # the one file holds no usable prices
        err = next(iter(unusable.values()))
        raise ParamsError("data.path", str(path), f"{err.rule}; {err.detail}")
    wanted = _wanted(symbols, list(sources), unusable)
    for want, sym in wanted.items():
        if sym in clashes:
            names = " and ".join(f.name for f in clashes[sym])
            raise DataError(want, None, "one source file per symbol", f"found in {names}")
    return {want: (sources[sym][0], sources[sym][1]()) for want, sym in wanted.items()}


def _wanted(
    symbols: list[str] | str | None, available: list[str], unusable: dict[str, DataError]
) -> dict[str, str]:
    """Map each requested symbol to the symbol the files hold (case aside), in request order.

    A symbol the files hold without usable prices (an empty wide column, a file with no
    close) raises its own DataError, which says why.
    """
    if symbols is None:
        return {sym: sym for sym in available}
    if isinstance(symbols, str):
        symbols = [symbols]
    shown = ", ".join(available[:_MAX_LISTED])
    if len(available) > _MAX_LISTED:
        shown += f", ... ({len(available)} in all)"
    if len(symbols) == 0:
        raise ParamsError("data.symbols", [], f"at least one of {shown}")
    out: dict[str, str] = {}
    for sym in symbols:
        found = _match(sym, available)
        if found is not None:
            out[sym] = found
            continue
        problem = _match(sym, list(unusable))
        if problem is not None:
            raise unusable[problem]
        raise ParamsError("data.symbols", sym, f"one of {shown}" if available else "a symbol with prices in data.path")
    return out


def _match(symbol: str, names: list[str]) -> str | None:
    """``symbol`` as spelled in ``names``: exactly, else the one name equal to it in any case."""
    if symbol in names:
        return symbol
    same = [n for n in names if n.casefold() == str(symbol).casefold()]
    if len(same) > 1:
        raise ParamsError("data.symbols", symbol, f"one spelling of {' or '.join(same)} (the files hold both)")
    return same[0] if same else None


# --------------------------------------------------------------------------- reading


def _read_table(path: Path) -> pd.DataFrame:
    """Read a file into a frame with stripped column names and a 0..n-1 row index.

    A file that is not a readable table (empty, not UTF-8, rows with more cells than the
    header, an unterminated quote, a Parquet file that is not one) raises ``_NotBars``
    saying so in one line, never the parser's traceback.
    """
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            table = pd.read_parquet(path)
        except Exception as exc:  # pyarrow's errors have no common base beyond Exception
            raise _NotBars(f"it is not a readable Parquet file ({_first_line(exc)})") from None
        if not isinstance(table.index, pd.RangeIndex) or table.index.name is not None:
            table = table.reset_index()
        table.index = pd.RangeIndex(len(table))
    else:
        try:
            table = pd.read_csv(path, sep=_sniff_csv(path), encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _NotBars(f"it is not UTF-8 text (byte {exc.start} is not)") from None
        except pd.errors.EmptyDataError:
            raise _NotBars("it is empty (no header, no rows)") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise _NotBars(f"it is not a readable CSV table ({_first_line(exc)})") from None
    if isinstance(table.columns, pd.MultiIndex):
        raise _NotBars("its columns are nested (a saved panel?); save one flat table per file")
    table.columns = [str(c).strip() for c in table.columns]
    unnamed = [c for c in table.columns if c.startswith("Unnamed:") and table[c].isna().all()]
    table = table.drop(columns=unnamed)
    if table.shape[1] < 2:
        raise _NotBars("it has fewer than two columns (a date and a price)")
    return table


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _distinct(path: Path, names: list[str]) -> None:
    """Refuse two columns that mean the same (``Close`` and ``close ``)."""
    if len(set(names)) < len(names):
        dups = sorted({c for c in names if names.count(c) > 1})
        raise DataError(path.stem, None, "distinct column names", f"{dups} appear twice")


def _sniff_csv(path: Path) -> str:
    """Return the delimiter; raise ``_NotBars`` for a headerless file."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    sep = max((",", ";", "\t"), key=first.count)
    columns = first.count(sep) + 1
    cell = first.split(sep)[0].strip().strip('"')
    if cell and _looks_like_date(cell):
        if columns == 2:
            raise _NotBars(
                "it has no header and two columns (date, value): a returns series such as "
                "zipline's benchmark returns, not price bars; build a price index from it first"
            )
        raise _NotBars(
            "it has no header row; name the columns (date, open, high, low, close, volume)"
        )
    return sep


def _looks_like_date(cell: str) -> bool:
    """True when a header cell is in fact a date (the file has no header)."""
    if not re.match(r"^\d", cell):
        return False
    try:
        _parse_naive(pd.Series([_OFFSET.sub("", cell)]), "?")
    except DataError:
        return False
    return True


def _fold(name: str) -> str:
    """Fold a header for matching: case, spaces, ``_``/``-``/``.`` (``Adj. Close `` -> ``adj close``)."""
    return re.sub(r"[\s_\-.]+", " ", name).strip().lower()


def _is_field(header: str) -> bool:
    return _fold(header) in _FIELD_NAMES


def _could_be_ticker(header: str) -> bool:
    """``LOW``, ``OPEN``: short, all capitals, letters only, as tickers are written."""
    return header.isalpha() and header.isupper() and len(header) <= 5


# ---------------------------------------------------------------------- per symbol


def _split_symbols(
    path: Path, table: pd.DataFrame, prices: str
) -> tuple[dict[str, Builder], dict[str, DataError]]:
    """Return a builder per symbol found in the table, and why the others cannot be used.

    The layout is read from folded header names; a wide table keeps its columns' own
    spelling as symbols (``LOW`` is Lowe's, not a low price, when ``DT`` sits beside it).
    A bar table without a close column is refused (see the module docstring).
    """
    folded = [_fold(c) for c in table.columns]
    if not set(folded) & {*_SYMBOL_NAMES, *_CLOSE_NAMES}:
        others = list(table.columns[1:])
        fields = [c for c in others if _is_field(c)]
        symbols = [c for c in others if not _is_field(c)]
        if fields and (not symbols or not all(_could_be_ticker(c) for c in fields)):
            return {}, {path.stem: _no_close(path, table)}
        _distinct(path, list(table.columns))
        return _wide(path, table, table.columns[0])
    table = table.set_axis(folded, axis=1)
    _distinct(path, folded)
    date_col = next((c for c in folded if c in _DATE_NAMES), folded[0])
    key = next((c for c in _SYMBOL_NAMES if c in folded), None)
    if key is not None:
        groups = table.groupby(table[key].astype(str).str.strip(), sort=False)
        return {
            str(sym): partial(_bars, sub, date_col, str(sym), prices)
            for sym, sub in groups
        }, {}
    sym = path.stem
    return {sym: lambda: _bars(table, date_col, sym, prices)}, {}


def _no_close(path: Path, table: pd.DataFrame) -> DataError:
    """The error for a bar table with fields but no close: it lists what the file has."""
    found = ", ".join(str(c) for c in table.columns[:_MAX_LISTED])
    rule = "a close price column (headed close or adj close, any case; or a wide file of one close column per symbol)"
    return DataError(path.stem, None, rule, f"{path.name} has columns: {found}")


def _wide(path: Path, table: pd.DataFrame, date_col: str) -> tuple[dict[str, Builder], dict[str, DataError]]:
    """One close-only builder per column of a wide table; the index is parsed once."""
    symbols = [c for c in table.columns if c != date_col]
    blank = [c for c in symbols if table[c].isna().all()]
    if blank:
        warnings.warn(
            f"{path.name}: skipped {len(blank)} column(s) with no prices: {', '.join(blank)}",
            stacklevel=3,
        )
    cache: dict[str, pd.DatetimeIndex] = {}

    def stamps() -> pd.DatetimeIndex:
        if "index" not in cache:
            cache["index"] = _parse_timestamps(table[date_col], path.stem)
        return cache["index"]

    def build(sym: str) -> pd.DataFrame:
        index = stamps()
        close = to_float(table[sym], "close", index, sym)
        keep = ~np.isnan(close)
        close = close[keep]
        values = np.column_stack([close, close, close, close, np.full(len(close), np.nan)])
        return _finish(bar_frame(values, index[keep]), sym, warn_empty=False)

    problems = {s: DataError(s, None, "at least one bar", f"its column in {path.name} is empty") for s in blank}
    return {s: partial(build, s) for s in symbols if s not in blank}, problems


def _bars(table: pd.DataFrame, date_col: str, symbol: str, prices: str) -> pd.DataFrame:
    """Build one symbol's frame from a single-symbol table (or one ticker of a long table)."""
    cols = set(table.columns)
    index = _parse_timestamps(table[date_col], symbol)

    def num(col: str, field: str) -> np.ndarray:
        return to_float(table[col], field, index, symbol)

    adj_long = all(f"adj {f}" in cols for f in PRICE_FIELDS)
    if prices == "adjusted" and adj_long:
        names = {f: f"adj {f}" for f in PRICE_FIELDS}
        vol_col = "adj volume" if "adj volume" in cols else ("volume" if "volume" in cols else None)
    else:
        close_col = "close" if "close" in cols else "adj close"
        if close_col not in cols:
            raise DataError(symbol, None, "a close column", f"columns are {sorted(cols)}")
        present = [f for f in ("open", "high", "low") if f in cols]
        if present and len(present) < 3:
            raise DataError(
                symbol, None, "open, high and low all present or all absent",
                f"found only {', '.join(present)}",
            )
        names = {f: (f if present else close_col) for f in ("open", "high", "low")}
        names["close"] = close_col
        vol_col = "volume" if "volume" in cols else None

    parsed: dict[str, np.ndarray] = {}
    for field in ("close", "open", "high", "low"):  # a close-only file names "close" in errors
        if names[field] not in parsed:
            parsed[names[field]] = num(names[field], field)
    values = {f: parsed[c] for f, c in names.items()}
    values["volume"] = num(vol_col, "volume") if vol_col else np.full(len(index), np.nan)
    if prices == "adjusted" and not adj_long and names["close"] == "close" and "adj close" in cols:
        adj = num("adj close", "adj close")
        if not np.isnan(adj).all():  # an all-empty Adj Close column carries no adjustment
            values = _scale_by_adjusted_close(values, adj, index, symbol)
    frame = bar_frame(np.column_stack([values[f] for f in CANONICAL_FIELDS]), index)
    return _finish(frame, symbol, warn_empty=True)


def _scale_by_adjusted_close(
    values: dict[str, np.ndarray], adj: np.ndarray, index: pd.DatetimeIndex, symbol: str
) -> dict[str, np.ndarray]:
    """Adjust a Yahoo-style bar set by its ``Adj Close`` (volume unchanged)."""
    close = values["close"]
    missing = np.isnan(adj) & ~np.isnan(close)
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(
            symbol, index[i], "adjusted close present on every bar", "Adj Close is empty"
        )
    o, h, lo, c = adjust_to_close(values["open"], values["high"], values["low"], close, adj)
    return {"open": o, "high": h, "low": lo, "close": c, "volume": values["volume"]}


def _finish(frame: pd.DataFrame, symbol: str, *, warn_empty: bool) -> pd.DataFrame:
    """Drop empty rows, copies and re-downloads; put rows in ascending order; validate."""
    empty = np.isnan(frame.to_numpy()[:, :4]).all(axis=1)
    if empty.any():
        if warn_empty:
            first = frame.index[int(np.argmax(empty))]
            warnings.warn(
                f"{symbol}: dropped {int(empty.sum())} row(s) with empty open/high/low/close "
                f"(e.g. a dividend-only row), first at {first}",
                stacklevel=4,
            )
        frame = frame.loc[~empty]
    frame = drop_duplicate_rows(frame, symbol)
    frame = _collapse_redownloads(frame, symbol)
    frame = _ascending(frame, symbol)
    if len(frame) == 0:
        raise DataError(symbol, None, "at least one bar", "the file has no rows with prices")
    return validate_bars(frame, symbol, drop_exact_duplicates=False)


def _collapse_redownloads(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Keep the largest-volume row among rows equal in timestamp and prices."""
    dup = frame.index.duplicated(keep=False)
    if not dup.any():
        return frame
    flat = frame.reset_index()
    flat["_pos"] = np.arange(len(flat))
    flat = flat.sort_values("volume", ascending=False, kind="stable", na_position="last")
    drop = flat.duplicated(subset=["timestamp", *PRICE_FIELDS], keep="first")
    if not drop.any():
        return frame
    keep = np.ones(len(frame), dtype=bool)
    keep[flat.loc[drop, "_pos"].to_numpy()] = False
    warnings.warn(
        f"{symbol}: dropped {int(drop.sum())} re-downloaded bar(s) (same timestamp and prices as "
        f"another row, different volume); kept the row with the largest volume",
        stacklevel=5,
    )
    return frame.loc[keep]


def _ascending(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Return rows ascending: a descending file is reversed, any other order is an error."""
    index = bar_index(frame)
    if index.is_monotonic_increasing:
        return frame
    if index.is_monotonic_decreasing:
        return frame.iloc[::-1]
    step = np.sign(np.diff(index.asi8))
    direction = step[np.flatnonzero(step)[0]]
    i = int(np.flatnonzero(step == -direction)[0]) + 1
    raise DataError(
        symbol, index[i], "rows in ascending or descending timestamp order",
        f"it follows {index[i - 1]}",
    )


# ------------------------------------------------------------------------ timestamps


def _parse_timestamps(col: pd.Series, symbol: str) -> pd.DatetimeIndex:
    """Parse a date column into UTC: daily rows at midnight UTC, intraday at their instant."""
    if col.isna().any():
        label = col.index[int(np.argmax(col.isna().to_numpy()))]
        raise DataError(symbol, None, "every row has a date", f"data row {label} has none")
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        wall = col.dt.tz_localize(None)
        instants = col.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(col.dtype):
        wall, instants = col, None
    else:
        text = col.astype(str).str.strip()
        aware = text.str.contains(_OFFSET_AFTER_TIME, regex=True)
        if aware.any() and not aware.all():
            i = int(np.argmax((aware != aware.iloc[0]).to_numpy()))
            raise DataError(
                symbol, text.iloc[i], "timestamps all with or all without a UTC offset",
                f"first row {text.iloc[0]!r}",
            )
        if aware.all():
            offset_text = text.str.extract(_OFFSET.pattern, expand=False)
            wall = _parse_naive(text.str.replace(_OFFSET.pattern, "", regex=True), symbol)
            instants = (wall - _offsets(offset_text)).dt.tz_localize("UTC")
        else:
            wall, instants = _parse_naive(text, symbol), None
    daily = bool((wall == wall.dt.normalize()).all())
    if daily:
        index = pd.DatetimeIndex(wall.dt.normalize()).tz_localize("UTC")
    elif instants is None:
        i = int(np.argmax((wall != wall.dt.normalize()).to_numpy()))
        raise DataError(
            symbol, wall.iloc[i], "intraday timestamps carry a UTC offset",
            "naive intraday times are ambiguous; write them with an offset (-05:00) or in UTC (Z)",
        )
    else:
        index = pd.DatetimeIndex(instants)
    return index.as_unit("ns").rename("timestamp")


def _parse_naive(text: pd.Series, symbol: str) -> pd.Series:
    """Parse offset-free date text with the first format that reads every row."""
    best: tuple[int, pd.Series] | None = None
    for fmt in _NAIVE_FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        bad = int(parsed.isna().sum())
        if bad == 0:
            return parsed
        if best is None or bad < best[0]:
            best = (bad, parsed)
    assert best is not None
    i = int(np.argmax(best[1].isna().to_numpy()))
    raise DataError(
        symbol, text.iloc[i], "timestamps parse as dates",
        "read as ISO 8601 or US month/day/year, with or without a time",
    )


def _offsets(text: pd.Series) -> pd.Series:
    """Turn ``Z``, ``-05:00`` or ``+0530`` into timedeltas east of UTC."""
    clean = text.str.replace(":", "", regex=False).replace("Z", "+0000")
    sign = np.where(clean.str[0] == "-", -1, 1)
    minutes = clean.str[1:3].astype(int) * 60 + clean.str[3:5].astype(int)
    return pd.to_timedelta(sign * minutes.to_numpy(), unit="min").to_series(index=text.index)
