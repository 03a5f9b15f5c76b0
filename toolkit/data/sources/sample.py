"""``data.source: sample``: the real daily index bars bundled with ``arch`` (offline default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.sample import load_sample
from toolkit.data.sources.base import BarRequest, Source
from toolkit.data.sources.registry import register

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SampleSource"]


@register
class SampleSource(Source):
    """The bundled sample (:func:`toolkit.data.sample.load_sample`): needs no path, no network."""

    name = "sample"

    def load(self, request: BarRequest) -> dict[str, pd.DataFrame]:
        return load_sample(request.symbols, prices=request.prices)
