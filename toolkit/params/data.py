"""``data:`` of every notebook: where the bars come from and which part of them to use.

``source`` names a source registered in :mod:`toolkit.data.sources`; the registry is
consulted when a model is validated, not when this module is imported, so importing
params (the CLI parsing its arguments) does not load pandas.
"""

from __future__ import annotations

import datetime as dt
from types import ModuleType
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, ValidationInfo, field_validator, model_serializer

from toolkit.params.base import StrictModel

__all__ = ["DataParams", "ExtraSource", "IntradayParams", "ProxySpec"]


def _registry() -> ModuleType:
    """:mod:`toolkit.data.sources.registry`, imported on first validation (toolkit.data loads pandas)."""
    from toolkit.data.sources import registry

    return registry


def _intraday() -> ModuleType:
    """:mod:`toolkit.data.intraday` (the minute sources), imported on first validation."""
    from toolkit.data import intraday

    return intraday


class ProxySpec(StrictModel):
    """A synthetic instrument derived from a base symbol's daily returns."""

    base: str = Field(description="symbol whose daily returns drive the proxy")
    leverage: float = Field(description="daily return multiple, e.g. 3 or -1")
    annual_cost_bps: float = Field(0.0, ge=0, le=5000, description="yearly cost (expense ratio, financing)")

    @field_validator("leverage")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0 or abs(v) > 5:
            raise ValueError("leverage must be non-zero and between -5 and 5")
        return v


class ExtraSource(StrictModel):
    """More symbols from the user's files, next to the main source (e.g. real TLT)."""

    path: str = Field(description="file or folder of CSV/Parquet bars")
    symbols: list[str] = Field(min_length=1)


class IntradayParams(StrictModel):
    """``data.intraday``: where the minute bars come from that price an intraday execution time.

    With them, a dry run or replay at ``open``, ``15min_after_open``,
    ``15min_before_close`` or ``5min_before_close`` trades and decides at the close of
    the minute bar at (or last before) that instant in New York; sessions the minute bars
    do not cover are priced at the daily bar, and the report says so
    (:mod:`toolkit.engine.intraday`). ``{path: FILE_OR_DIR}`` reads CSV/Parquet minute
    files; ``{source: alpaca}`` (``feed: iex`` or ``sip``) asks Alpaca through the local
    cache, with the credentials of the environment.
    """

    source: str = Field("csv", description="csv (minute files at path) or alpaca (minute bars through the cache)")
    path: str | None = Field(None, validate_default=True, description="file or folder of minute bars (source csv)")
    feed: str | None = Field(None, validate_default=True, description="data feed (alpaca: iex, the default, or sip)")

    @field_validator("source")
    @classmethod
    def _registered(cls, v: str) -> str:
        if v not in _intraday().minute_sources():
            raise ValueError(_intraday().allowed_minute_sources())
        return v

    @field_validator("feed")
    @classmethod
    def _feed_of_source(cls, v: str | None, info: ValidationInfo) -> str | None:
        source = info.data.get("source")
        if source is None:
            return v
        feeds = _intraday().minute_sources()[source].feeds
        if not feeds:
            if v is not None:
                raise ValueError(f"no feed with data.intraday.source: {source} (it has no feeds)")
            return v
        if v is None:
            return feeds[0]
        if v not in feeds:
            raise ValueError(f"one of {', '.join(feeds)} (the feeds of data.intraday.source: {source})")
        return v

    @field_validator("path")
    @classmethod
    def _path_if_source_reads_files(cls, v: str | None, info: ValidationInfo) -> str | None:
        source = info.data.get("source")
        if source is None:  # the source itself was refused
            return v
        takes_path = _intraday().minute_sources()[source].takes_path
        if takes_path and not v:
            raise ValueError(f"a file or folder of minute bars (required when data.intraday.source is {source})")
        if not takes_path and v:
            raise ValueError(f"no path with data.intraday.source: {source} (it does not read files)")
        return v


class DataParams(StrictModel):
    """Where the bars come from and which part of them to use.

    Each rule is checked on the field it is about, so an error names that field and
    its value (``data.end: got '2018-01-01'; allowed: a date after data.start (2018-06-01)``)
    rather than the whole ``data:`` block.
    """

    source: str = Field("sample", description="a registered data source (see toolkit.data.sources)")
    symbols: list[str] = Field(default_factory=lambda: ["NASDAQ"], min_length=1)
    path: str | None = Field(None, validate_default=True, description="file or folder (sources that read files: csv)")
    start: dt.date | None = None
    end: dt.date | None = None
    prices: Literal["raw", "adjusted"] = Field("adjusted", validate_default=True)
    #: The source's data feed (alpaca: iex, free, the default; sip, all exchanges, needs a subscription).
    feed: str | None = Field(None, validate_default=True, description="data feed (sources with feeds: alpaca)")
    #: Synthetic instruments (name -> spec), labelled as proxies in reports.
    proxies: dict[str, ProxySpec] = Field(default_factory=dict)
    #: Symbols used when present and switched off with a note when absent.
    optional_symbols: list[str] = Field(default_factory=list)
    #: Further files whose symbols join the main source's (same price choice).
    extra_sources: list[ExtraSource] = Field(default_factory=list)
    #: Minute bars that price intraday execution times (dry run and replay); None = daily bars only.
    intraday: IntradayParams | None = None

    def refuse_intraday(self, notebook: str) -> None:
        """Stop a run that prices on daily bars only (backtest, walk-forward) when ``data.intraday`` is set."""
        from toolkit.errors import ParamsError

        if self.intraday is not None:
            raise ParamsError("data.intraday", self.intraday.model_dump(exclude_none=True),
                              f"null: the {notebook} prices on daily bars; minute bars serve the daily dry run "
                              "and replay at intraday execution times")

    @field_validator("source")
    @classmethod
    def _registered(cls, v: str) -> str:
        registry = _registry()
        if v not in registry.available():
            raise ValueError(registry.allowed())
        return v

    @field_validator("symbols")
    @classmethod
    def _once(cls, v: list[str]) -> list[str]:
        twice = next((s for i, s in enumerate(v) if s in v[:i]), None)
        if twice is not None:
            raise ValueError(f"each symbol once ({twice} is listed twice)")
        return v

    @field_validator("path")
    @classmethod
    def _path_if_source_reads_files(cls, v: str | None, info: ValidationInfo) -> str | None:
        source = info.data.get("source")
        if source is None:  # the source itself was refused
            return v
        sources = _registry().available()
        if sources[source].takes_path and not v:
            raise ValueError(f"a file or folder of bars (required when data.source is {source})")
        if not sources[source].takes_path and v:
            with_path = ", ".join(name for name, s in sources.items() if s.takes_path)
            raise ValueError(f"no path with data.source: {source} (only {with_path} read a path)")
        return v

    @field_validator("prices")
    @classmethod
    def _offered_by_source(cls, v: str, info: ValidationInfo) -> str:
        source = info.data.get("source")
        if source is None:
            return v
        src = _registry().available()[source]
        if v not in src.price_choices:
            note = f": {src.prices_note}" if src.prices_note else ""
            raise ValueError(f"{' or '.join(src.price_choices)} (data.source: {source} offers no {v} prices{note})")
        return v

    @field_validator("feed")
    @classmethod
    def _feed_of_source(cls, v: str | None, info: ValidationInfo) -> str | None:
        source = info.data.get("source")
        if source is None:
            return v
        sources = _registry().available()
        feeds = sources[source].feeds
        if not feeds:
            if v is not None:
                with_feeds = ", ".join(name for name, s in sources.items() if s.feeds)
                raise ValueError(f"no feed with data.source: {source} (only {with_feeds} take a feed)")
            return v
        if v is None:
            return feeds[0]
        if v not in feeds:
            raise ValueError(f"one of {', '.join(feeds)} (the feeds of data.source: {source})")
        return v

    @model_serializer(mode="wrap")
    def _omit_unused_feed_and_intraday(self, handler: SerializerFunctionWrapHandler) -> Any:
        # ``feed`` is null for every source without feeds, ``intraday`` for every run
        # without minute bars: leaving them out keeps the params dump (and so the params
        # hash that names runs) what it was before either existed.
        out = handler(self)
        if isinstance(out, dict):
            for key in ("feed", "intraday"):
                if out.get(key) is None:
                    out.pop(key, None)
        return out

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start")
        if v is not None and start is not None and start >= v:
            raise ValueError(f"a date after data.start ({start.isoformat()})")
        return v
