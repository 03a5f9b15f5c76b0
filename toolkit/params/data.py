"""``data:`` of every notebook: where the bars come from and which part of them to use.

``source`` names a source registered in :mod:`toolkit.data.sources`; the registry is
consulted when a model is validated, not when this module is imported, so importing
params (the CLI parsing its arguments) does not load pandas.
"""

from __future__ import annotations

import datetime as dt
from types import ModuleType
from typing import Literal

from pydantic import Field, field_validator, model_validator

from toolkit.params.base import StrictModel

__all__ = ["DataParams", "ExtraSource", "ProxySpec"]


def _registry() -> ModuleType:
    """:mod:`toolkit.data.sources.registry`, imported on first validation (toolkit.data loads pandas)."""
    from toolkit.data.sources import registry

    return registry


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


class DataParams(StrictModel):
    """Where the bars come from and which part of them to use."""

    source: str = Field("sample", description="a registered data source (see toolkit.data.sources)")
    symbols: list[str] = Field(default_factory=lambda: ["NASDAQ"], min_length=1)
    path: str | None = Field(None, description="file or folder (sources that read files: csv)")
    start: dt.date | None = None
    end: dt.date | None = None
    prices: Literal["raw", "adjusted"] = "adjusted"
    #: Synthetic instruments (name -> spec), labelled as proxies in reports.
    proxies: dict[str, ProxySpec] = Field(default_factory=dict)
    #: Symbols used when present and switched off with a note when absent.
    optional_symbols: list[str] = Field(default_factory=list)
    #: Further files whose symbols join the main source's (same price choice).
    extra_sources: list[ExtraSource] = Field(default_factory=list)

    @field_validator("source")
    @classmethod
    def _registered(cls, v: str) -> str:
        registry = _registry()
        if v not in registry.available():
            raise ValueError(registry.allowed())
        return v

    @model_validator(mode="after")
    def _check(self) -> DataParams:
        sources = _registry().available()
        takes_path = sources[self.source].takes_path
        if takes_path and not self.path:
            raise ValueError(f"data.path is required when data.source is {self.source}")
        if not takes_path and self.path:
            with_path = ", ".join(name for name, source in sources.items() if source.takes_path)
            raise ValueError(f"data.path is only allowed with data.source: {with_path}")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"data.start ({self.start}) must be before data.end ({self.end})")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("data.symbols lists a symbol twice")
        return self
