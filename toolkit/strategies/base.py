"""The strategy contract shared by backtest, walk-forward, dry run and live.

A strategy decides from a history window: :meth:`Strategy.decide` receives the bars
up to and including the decision bar and returns a :class:`Decision` (target weights
plus the context a trader wants to see). The backtester uses the vectorised twin,
:meth:`Strategy.decisions`, for speed; one contract test over the registry
(``tests/unit/test_strategy_contract.py``) proves for every registered strategy that
both give the same targets on every bar, that no decision looks ahead and that its
params round-trip, so what was backtested is what trades.

A strategy is typed by its parameter model: ``class MyStrategy(Strategy[MyParams])``
with ``Params = MyParams`` gives ``self.params: MyParams`` to the type checker.

A grid search (walk-forward) decides many parameter sets on the same bars through
:meth:`Strategy.grid_decisions`; a strategy may override it with a vectorised fast
path, which must give the same floats as one :meth:`~Strategy.decisions` per set
(:func:`grid_decisions_one_by_one`, also checked by the contract test).

History is a ``pandas.DataFrame`` with a column MultiIndex ``(symbol, field)``
(fields ``open high low close volume``) and a UTC ``DatetimeIndex``: the panel built
by :func:`toolkit.data.panel`. Symbols that start later than the panel hold NaN before
their first bar.

Missing bars: THE gap policy every strategy follows. The panel is one calendar (the
calendar symbol's sessions); a symbol without a bar on one of them holds NaN there (a
day missing from its file, a holiday of its own market, a symbol that stopped). Then:

1. its indicators are computed over its own bars only (rolling windows, lags and
   recursions skip the missing rows: :mod:`toolkit.strategies.indicators`), so one
   missing day neither poisons every window that would hold it (before this policy a
   deleted day switched an SMA crossover position off for ``slow`` bars) nor invents
   a price;
2. on a row where it has no bar its target weight is held as on its last bar
   (:func:`~toolkit.strategies.indicators.hold_gaps`): no entry, no exit and no stop
   is judged on a price that does not exist, and the other symbols decide as usual.
   Before a symbol's first bar "held" means no position;
3. it is never traded on such a row: the backtest gives no order to a symbol without
   a price, and a daily session holds it and trades the others
   (:mod:`toolkit.engine.market`);
4. the report says so: :func:`toolkit.data.load_dataset` adds a note naming the
   symbol and the dates it lacks.

The contract test runs every registered strategy on a panel with such gaps.

Today's provisional bar. A session at an intraday execution time priced by minute bars
(``data.intraday``, :mod:`toolkit.engine.intraday`) hands ``decide`` a history whose
last row is today's bar as known at that instant: its close is the execution-time price.
``history.attrs[PRICE_SOURCE_ATTR]`` then names where that price came from
(``"minute_bar"``), for a strategy that reports its price source (v3.5b). The next
session's history holds the real daily bar in its place: a strategy that caches state
between calls must notice the rewritten row (the caches here compare it).

Strategies may keep state between calls to ``decide`` (a Kalman filter, a latched
volatility regime) as an optimisation, but the result must equal what a fresh
instance returns for the same history: that is what the truncation test checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from toolkit.errors import ParamsError, field_bounds, field_path, plain_allowed


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Decision:
    """What a strategy wants on one bar.

    ``target_weights`` maps each traded instrument to its target fraction of equity
    (cash is what is left). ``rebalance`` says whether orders should go out on this
    bar: a strategy with a rebalance rule (v3.5b's L1 threshold) keeps its targets
    but asks for no orders while the rule is not met. ``context`` holds whatever the
    strategy wants a trader to see (indicator values, regime cell, ...).
    """

    timestamp: pd.Timestamp
    target_weights: dict[str, float]
    rebalance: bool = True
    context: dict[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        rows = "".join(f"<tr><td>{k}</td><td>{v:.4f}</td></tr>" for k, v in self.target_weights.items())
        ctx = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in self.context.items())
        return (
            f"<b>Decision {self.timestamp}</b> (rebalance={self.rebalance})"
            f"<table><tr><th>instrument</th><th>weight</th></tr>{rows}</table>"
            f"<table><tr><th>context</th><th>value</th></tr>{ctx}</table>"
        )


@dataclass(frozen=True)
class Decisions:
    """The vectorised twin of a sequence of :class:`Decision` objects.

    ``weights``: one row per bar, one column per instrument (targets carried on bars
    without a rebalance). ``rebalance``: boolean per bar. ``context``: one column per
    context field, same index.
    """

    weights: pd.DataFrame
    rebalance: pd.Series
    context: pd.DataFrame

    def order_weights(self) -> pd.DataFrame:
        """Target weights on rebalance bars, NaN (no order) elsewhere."""
        out = self.weights.copy()
        out.loc[~self.rebalance.to_numpy(dtype=bool)] = np.nan
        return out

    def to_frame(self) -> pd.DataFrame:
        """One table: ``weight_<instrument>`` columns, ``rebalance`` and the context."""
        w = self.weights.add_prefix("weight_")
        return pd.concat([w, self.rebalance.rename("rebalance"), self.context], axis=1)


@dataclass(frozen=True)
class GridDecisions:
    """Decisions of many parameter sets of one strategy on the same bars.

    ``weights``: ``(bars, sets, instruments)`` target weights (carried on bars without
    a rebalance, as in :class:`Decisions`); ``rebalance``: ``(bars, sets)`` booleans.
    """

    instruments: list[str]
    weights: np.ndarray
    rebalance: np.ndarray


#: The parameter model of a strategy class.
P = TypeVar("P", bound=StrategyParams)

#: Key of ``history.attrs`` naming the source of the last row's execution-time price
#: (``"minute_bar"``) when that row is today's provisional bar; absent on daily bars.
PRICE_SOURCE_ATTR = "execution_price_source"


class Strategy(ABC, Generic[P]):
    """Base class: subclasses set ``name`` and ``Params`` and implement both paths."""

    name: ClassVar[str]
    #: The pydantic model of the strategy's parameters (``self.params`` is one).
    Params: type[P]
    description: ClassVar[str] = ""
    #: True when the strategy exposes a regime ``cell`` in its context (regime charts).
    has_regime: ClassVar[bool] = False
    #: What each regime cell number means, as its spec names it (``3: sideways / low vol (Drift)``):
    #: a reader of the regime band and its statistics should not have to look up "cell 3".
    regime_cells: ClassVar[Mapping[int, str]] = {}

    def __init__(
        self,
        params: P | dict[str, Any] | None = None,
        *,
        symbols: list[str] | None = None,
    ) -> None:
        self.params: P = self.parse_params(params)
        #: The data symbols of the run; universal strategies (SMA crossover) trade all
        #: of them, strategies with named roles (v3.5b) ignore it.
        self.symbols: list[str] = list(symbols or [])
        self.reset()

    @classmethod
    def parse_params(cls, params: P | dict[str, Any] | None) -> P:
        """Validate ``params`` against the strategy's model with errors naming the field."""
        if isinstance(params, cls.Params):
            return params
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ParamsError("strategy_params", params, f"a {cls.Params.__name__} or a mapping")
        try:
            return cls.Params.model_validate(dict(params))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            field = field_path(err, "strategy_params.")
            if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
                # Often a switch of ``strategy`` that kept the previous strategy's params.
                raise ParamsError(
                    field, err.get("input"), "its parameters are " + ", ".join(sorted(cls.Params.model_fields)),
                    problem=f"unknown parameter {loc!r} for {cls.name}",
                ) from None
            allowed = plain_allowed(err, field_bounds(cls.Params, err["loc"]))
            raise ParamsError(field, err.get("input"), allowed) from None

    def reset(self) -> None:
        """Forget any state cached between ``decide`` calls."""

    @abstractmethod
    def instruments(self) -> list[str]:
        """The symbols this strategy trades (the columns of its weights)."""

    def required_symbols(self) -> list[str]:
        """The symbols whose bars the strategy reads (defaults to the instruments)."""
        return self.instruments()

    def optional_symbols(self) -> list[str]:
        """Symbols used when present and switched off (with a note) when absent."""
        return []

    @property
    def warmup(self) -> int:
        """Bars needed before the first meaningful decision."""
        return 0

    @abstractmethod
    def decide(self, history: pd.DataFrame) -> Decision:
        """Decide on the last bar of ``history`` using nothing after it."""

    @abstractmethod
    def decisions(self, bars: pd.DataFrame) -> Decisions:
        """Vectorised twin of :meth:`decide` over every bar of ``bars``."""

    def decide_each(self, bars: pd.DataFrame) -> Decisions:
        """Run :meth:`decide` bar by bar (the live path) and stack the results.

        Slow by design: this is the reference the vectorised path is checked against.
        """
        self.reset()
        rows, flags, ctx = [], [], []
        for i in range(len(bars)):
            d = self.decide(bars.iloc[: i + 1])
            rows.append(d.target_weights)
            flags.append(d.rebalance)
            ctx.append(d.context)
        idx = bars.index
        weights = pd.DataFrame(rows, index=idx, columns=self.instruments()).fillna(0.0)
        return Decisions(
            weights=weights.astype(float),
            rebalance=pd.Series(flags, index=idx, dtype=bool),
            context=pd.DataFrame(ctx, index=idx),
        )

    @classmethod
    def grid_decisions(cls, params: Sequence[P], bars: pd.DataFrame, *, symbols: list[str]) -> GridDecisions:
        """Decisions of every parameter set in ``params`` on ``bars`` (a grid search).

        The default decides one set after another; a strategy whose signals vectorise
        across parameter sets overrides this with a fast path that must return the
        same floats as :func:`grid_decisions_one_by_one` (the contract test checks).
        """
        return grid_decisions_one_by_one(cls, params, bars, symbols=symbols)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


def grid_decisions_one_by_one(
    cls: type[Strategy[P]], params: Sequence[P], bars: pd.DataFrame, *, symbols: list[str]
) -> GridDecisions:
    """The reference grid: one :meth:`Strategy.decisions` per parameter set, stacked.

    Every set must trade the same instruments (one column layout for the grid).
    """
    if not params:
        raise ValueError(f"{cls.name}: a grid needs at least one parameter set")
    instruments: list[str] = []
    weights = rebalance = np.empty(0)
    for g, prm in enumerate(params):
        strat = cls(prm, symbols=symbols)
        dec = strat.decisions(bars)
        cols = strat.instruments()
        if g == 0:
            instruments = cols
            weights = np.empty((len(bars), len(params), len(cols)))
            rebalance = np.empty((len(bars), len(params)), dtype=bool)
        elif cols != instruments:
            raise ValueError(f"{cls.name}: parameter set {prm} trades {cols}, others trade {instruments}")
        weights[:, g, :] = dec.weights.reindex(columns=cols).to_numpy(dtype=float)
        rebalance[:, g] = dec.rebalance.to_numpy(dtype=bool)
    return GridDecisions(instruments, weights, rebalance)
