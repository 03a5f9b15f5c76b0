"""Strategies: the base contract, the registry and one module per strategy."""

from toolkit.strategies.base import Decision, Decisions, GridDecisions, Strategy, StrategyParams
from toolkit.strategies.registry import available, create, get, register

__all__ = [
    "Decision",
    "Decisions",
    "GridDecisions",
    "Strategy",
    "StrategyParams",
    "available",
    "create",
    "get",
    "register",
]
