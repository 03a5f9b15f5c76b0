"""Find sources of bars by the name used in params files (``data.source``).

The way papermill keeps its I/O handlers and :mod:`toolkit.strategies.registry` its
strategies: each source module registers its class with :func:`register`; the built-in
modules are imported on first lookup.
"""

from __future__ import annotations

import importlib

from toolkit.data.sources.base import Source
from toolkit.errors import ParamsError

__all__ = ["BUILTIN_MODULES", "allowed", "available", "get", "register"]

_REGISTRY: dict[str, type[Source]] = {}

#: Modules that define built-in sources, imported on first lookup (in this order, the
#: order error messages list them in).
BUILTIN_MODULES = [
    "toolkit.data.sources.sample",
    "toolkit.data.sources.files",
    "toolkit.data.sources.alpaca",
    "toolkit.data.sources.schwab",
]


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: make ``cls`` available as ``data.source: <cls.name>``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"data source name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)


def available() -> dict[str, type[Source]]:
    """All registered sources by name: built-ins in BUILTIN_MODULES order, then the others."""
    _load_builtins()

    def rank(item: tuple[str, type[Source]]) -> int:
        module = item[1].__module__
        return BUILTIN_MODULES.index(module) if module in BUILTIN_MODULES else len(BUILTIN_MODULES)

    return dict(sorted(_REGISTRY.items(), key=rank))


def allowed() -> str:
    """What ``data.source`` may be, in the words of every choice error (``one of sample, csv``)."""
    return "one of " + ", ".join(available())


def get(name: str) -> Source:
    """The source called ``name``; a ParamsError on ``data.source`` listing the registered ones."""
    sources = available()
    if name not in sources:
        raise ParamsError("data.source", name, allowed())
    return sources[name]()
