"""Market data: sources, the canonical bar frame, its validation and a run's dataset.

Every source returns ``dict[symbol, DataFrame]`` of canonical bars (see
:mod:`toolkit.data.validate`): a tz-aware UTC ``DatetimeIndex`` named ``timestamp`` and
float64 columns ``open high low close volume``, sorted, unique and checked. Loaders:

* :func:`load_sample` -- the real daily S&P 500, NASDAQ and VIX bundled with ``arch``
  (offline default for demos and tests);
* :func:`load_files` -- CSV/Parquet files in their publishers' layouts;
* :func:`leveraged_proxy` -- a SYNTHETIC leveraged/inverse fund from a base's returns.

A params file names its source in ``data.source``: a name registered in
:mod:`toolkit.data.sources.registry` (``sample``, ``csv``, and the brokers' ``alpaca`` and
``schwab``, which fetch through the local Parquet cache of :mod:`toolkit.data.cache`).
:func:`load_dataset` assembles a run's bars from its ``data`` params (:class:`Dataset`)
over those sources.

:func:`panel` aligns symbols on one calendar, :func:`fingerprint` identifies the data
of a run for its manifest and :func:`describe` summarises it for a notebook.
"""

from toolkit.data.dataset import Dataset, check_data_params, load_dataset
from toolkit.data.files import load_files
from toolkit.data.panel import describe, fingerprint, panel
from toolkit.data.proxies import leveraged_proxy
from toolkit.data.sample import SAMPLE_SYMBOLS, load_sample, sample_range
from toolkit.data.sources import BarRequest, Source
from toolkit.data.validate import CANONICAL_FIELDS, validate_bars

__all__ = [
    "CANONICAL_FIELDS",
    "SAMPLE_SYMBOLS",
    "BarRequest",
    "Dataset",
    "Source",
    "check_data_params",
    "describe",
    "fingerprint",
    "leveraged_proxy",
    "load_dataset",
    "load_files",
    "load_sample",
    "panel",
    "sample_range",
    "validate_bars",
]
