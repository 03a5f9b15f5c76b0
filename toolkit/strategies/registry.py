"""Find strategies by the name used in params files.

Each strategy module registers its class with :func:`register`; the modules are
imported on first lookup so ``import toolkit`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

from toolkit.errors import ParamsError
from toolkit.strategies.base import Strategy

_REGISTRY: dict[str, type[Strategy[Any]]] = {}
S = TypeVar("S", bound=type[Strategy[Any]])

#: Modules that define built-in strategies, imported lazily on first lookup.
BUILTIN_MODULES = [
    "toolkit.strategies.sma_crossover",
    "toolkit.strategies.hierarchical_adaptive_v3_5b",
    "toolkit.strategies.ema_breakout",
    "toolkit.strategies.mean_reversion",
    "toolkit.strategies.atr_momentum",
    "toolkit.strategies.allocator",
]


def register(cls: S) -> S:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"strategy name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)


def available() -> dict[str, type[Strategy[Any]]]:
    """All registered strategies by name, sorted."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> type[Strategy[Any]]:
    """The strategy class called ``name``, or a ParamsError listing what exists."""
    strategies = available()
    if name not in strategies:
        raise ParamsError("strategy", name, "one of " + ", ".join(strategies))
    return strategies[name]


def create(name: str, params: dict[str, Any] | None = None, *, symbols: list[str] | None = None) -> Strategy[Any]:
    """Instantiate strategy ``name`` with validated ``params`` over ``symbols``."""
    return get(name)(params, symbols=symbols)
