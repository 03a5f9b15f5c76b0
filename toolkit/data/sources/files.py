"""``data.source: csv``: the user's CSV/Parquet files at ``data.path`` (any publisher's layout)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.files import load_files
from toolkit.data.sources.base import BarRequest, Source
from toolkit.data.sources.registry import register
from toolkit.errors import ParamsError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FilesSource"]


@register
class FilesSource(Source):
    """Files read by :func:`toolkit.data.files.load_files`; also what ``data.extra_sources`` use.

    Spelled ``csv`` in params files (Parquet files load the same way).
    """

    name = "csv"
    takes_path = True

    def load(self, request: BarRequest) -> dict[str, pd.DataFrame]:
        if request.path is None:
            raise ParamsError("data.path", None, f"a file or folder of bars (data.source: {self.name})")
        return load_files(request.path, request.symbols, prices=request.prices)
