"""Where bars come from: a registry of sources, one module per source.

``data.source`` in a params file names a registered source; :data:`sources` is the
registry the params validation and the dataset assembly both consult. Today:

* ``sample`` -- :class:`~toolkit.data.sources.sample.SampleSource`, the bundled real sample;
* ``csv`` -- :class:`~toolkit.data.sources.files.FilesSource`, the user's CSV/Parquet files.

A new source (a broker's history, a local cache) subclasses
:class:`~toolkit.data.sources.base.Source` in its own module and is registered here.
"""

from toolkit.data.sources.base import BarRequest, Source
from toolkit.data.sources.files import FilesSource
from toolkit.data.sources.registry import SourceRegistry
from toolkit.data.sources.sample import SampleSource

__all__ = ["BarRequest", "FilesSource", "SampleSource", "Source", "SourceRegistry", "sources"]

#: The sources a params file may name as ``data.source``.
sources = SourceRegistry()
sources.register(SampleSource())
sources.register(FilesSource())
