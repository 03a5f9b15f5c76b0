"""What a source of bars is: a name in ``data.source`` and one ``load`` call.

A source turns a :class:`BarRequest` into canonical bars, one frame per symbol (see
:mod:`toolkit.data.validate`). The dataset assembly (:mod:`toolkit.data.dataset`)
asks every source the same way, so a new source (a broker's history, a local cache)
is one module with one class, registered in :mod:`toolkit.data.sources`.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["BarRequest", "Source"]


@dataclass(frozen=True)
class BarRequest:
    """The bars a run asks a source for.

    ``path`` is the resolved ``data.path`` (only for sources that read the user's
    files). ``start``/``end`` are the run's dates, for sources that fetch a range; the
    assembly trims to them anyway, so a source may return more. ``feed`` is
    ``data.feed`` (only for sources with feeds: alpaca's iex or sip).
    """

    symbols: list[str]
    prices: str = "adjusted"
    path: Path | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    feed: str | None = None


class Source(ABC):
    """A provider of bars, known to params files by :attr:`name`."""

    #: The spelling of ``data.source`` in a params file.
    name: ClassVar[str]
    #: Whether the source reads the user's files at ``data.path`` (required then, refused otherwise).
    takes_path: ClassVar[bool] = False
    #: The ``data.prices`` choices the source offers (a broker may publish one set only).
    price_choices: ClassVar[tuple[str, ...]] = ("raw", "adjusted")
    #: Why a price choice is missing, for the error that refuses it ("" when all are offered).
    prices_note: ClassVar[str] = ""
    #: The ``data.feed`` choices, the default first; empty: the source has no feeds (``data.feed`` refused).
    feeds: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def load(self, request: BarRequest) -> dict[str, pd.DataFrame]:
        """Canonical bars of ``request.symbols``, in that order.

        An unknown symbol or an unreadable path is a :class:`~toolkit.errors.ParamsError`
        naming the params field (``data.symbols``, ``data.path``).
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} data.source: {self.name}>"
