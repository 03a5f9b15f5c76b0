"""Where bars come from: a registry of sources, one module per source.

``data.source`` in a params file names a registered source; :mod:`.registry` is what
the params validation and the dataset assembly both consult. Built in:

* ``sample`` -- :class:`~toolkit.data.sources.sample.SampleSource`, the bundled real sample;
* ``csv`` -- :class:`~toolkit.data.sources.files.FilesSource`, the user's CSV/Parquet files;
* ``alpaca`` -- :class:`~toolkit.data.sources.alpaca.AlpacaSource`, Alpaca's market data
  (``data.feed`` iex or sip, raw or adjusted), through the local cache;
* ``schwab`` -- :class:`~toolkit.data.sources.schwab.SchwabSource`, Schwab's daily price
  history (raw only), through the local cache.

The broker sources read their credentials from the environment only when the local
Parquet cache (:mod:`toolkit.data.cache`, ``outputs/cache/``) lacks the range asked for.

A new source (a broker's history, a local cache) subclasses :class:`Source` in its own
module, decorates it with :func:`~toolkit.data.sources.registry.register` and is listed
in :data:`~toolkit.data.sources.registry.BUILTIN_MODULES`.
"""

from toolkit.data.sources import registry
from toolkit.data.sources.base import BarRequest, Source

__all__ = ["BarRequest", "Source", "registry"]
