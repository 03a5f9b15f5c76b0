"""Sources by name, the way papermill keeps its I/O handlers: register once, look up by name."""

from __future__ import annotations

from toolkit.data.sources.base import Source
from toolkit.errors import ParamsError

__all__ = ["SourceRegistry"]


class SourceRegistry:
    """Maps a ``data.source`` spelling to its :class:`~toolkit.data.sources.base.Source`."""

    def __init__(self) -> None:
        self._sources: dict[str, Source] = {}

    def register(self, source: Source) -> Source:
        """Make ``source`` available as ``data.source: <source.name>``; a name is taken once."""
        if source.name in self._sources:
            raise ValueError(f"a data source named {source.name!r} is already registered: {self._sources[source.name]!r}")
        self._sources[source.name] = source
        return source

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._sources)

    def allowed(self) -> str:
        """What ``data.source`` may be, phrased like pydantic's own choice errors."""
        quoted = [repr(n) for n in self._sources]
        choices = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return f"Input should be {choices}"

    def get(self, name: str) -> Source:
        """The source called ``name``; ParamsError on ``data.source`` listing the registered ones."""
        try:
            return self._sources[name]
        except KeyError:
            raise ParamsError("data.source", name, self.allowed()) from None

    def __contains__(self, name: object) -> bool:
        return name in self._sources

    def __repr__(self) -> str:
        return f"SourceRegistry({', '.join(self._sources)})"
