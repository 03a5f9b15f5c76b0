"""Evaluate a chunk of parameter combinations in one vectorbt simulation.

A walk-forward fold tries every combination of the grid on its in-sample window.
Running one backtest per combination would pay vectorbt's per-call overhead
thousands of times; instead each chunk of combinations becomes the columns of ONE
``Portfolio.from_orders`` call (Rust engine), each combination its own portfolio
(a group of its instruments with cash sharing, exactly like
:func:`toolkit.backtest.engine.run_backtest`), and the metrics of every column are
computed with array operations using the definitions of
:mod:`toolkit.backtest.metrics` (a parity test checks both agree).

Also here, because the params validation needs them without importing vectorbt:

* :data:`METRICS` -- the metric names an objective or a constraint may use;
* :func:`parse_objective` -- a safe parser for objectives such as
  ``"sharpe - 0.5 * abs(max_drawdown)"`` (numbers, metric names, ``+ - * /``,
  unary minus, ``abs``/``min``/``max``; nothing else is evaluated);
* :func:`constraint_mask` and :func:`select_best` -- which combinations may be
  chosen and which one is (first in grid order on ties, so runs are repeatable).

Arrays of per-combination results are laid out ``(combination, bar)`` and reduced
along the contiguous bar axis, so a combination's metrics do not depend on which
other combinations shared its chunk.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toolkit.errors import ParamsError
from toolkit.optimize.grid import iter_combinations

TRADING_DAYS = 252

#: Metrics computed for every combination (the keys of ``compute_metrics``), in table order.
METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration_days",
    "win_rate",
    "profit_factor",
    "n_trades",
    "n_partial_exits",
    "exposure",
    "avg_gross_exposure",
    "turnover",
    "final_equity",
)

#: Constraint name -> (metric, comparison). A combination whose metric is NaN fails.
CONSTRAINT_RULES: dict[str, tuple[str, str]] = {
    "min_trades": ("n_trades", ">="),
    "max_drawdown": ("max_drawdown", ">="),  # a floor: -0.4 rejects drawdowns deeper than 40%
    "min_sharpe": ("sharpe", ">="),
    "min_exposure": ("exposure", ">="),
    "max_turnover": ("turnover", "<="),
}

# --------------------------------------------------------------------------- objective

_BINOPS: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
}
_FUNCS: dict[str, tuple[int, Callable[..., np.ndarray]]] = {
    "abs": (1, np.abs),
    "min": (2, lambda *a: _reduce(np.minimum, a)),
    "max": (2, lambda *a: _reduce(np.maximum, a)),
}
_OBJECTIVE_HELP = (
    "a metric name or an expression of metric names ({names}), numbers, + - * /, "
    "unary minus, abs(x), min(x, y, ...), max(x, y, ...)"
)
_MAX_OBJECTIVE_CHARS = 500


def _reduce(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], args: tuple) -> np.ndarray:
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


def _describe_node(node: ast.AST) -> str:
    kinds = {
        ast.Attribute: "attribute access",
        ast.Subscript: "indexing",
        ast.Compare: "comparisons",
        ast.BoolOp: "and/or",
        ast.Lambda: "lambda",
        ast.IfExp: "if/else",
        ast.Pow: "power (**)",
        ast.FloorDiv: "floor division (//)",
        ast.Mod: "modulo (%)",
        ast.Starred: "*args",
    }
    for kind, text in kinds.items():
        if isinstance(node, kind):
            return text
    if isinstance(node, ast.BinOp):
        return _describe_node(node.op)
    if isinstance(node, ast.Constant):
        return f"the constant {node.value!r}"
    return type(node).__name__


@dataclass(frozen=True)
class Objective:
    """A parsed objective: higher is better. Call it on a mapping of metric arrays."""

    expression: str
    names: tuple[str, ...]
    _fn: Callable[[Mapping[str, Any]], np.ndarray] = field(repr=False, compare=False)

    def __call__(self, metrics: Mapping[str, Any]) -> np.ndarray:
        """Objective values (float64 array); NaN or inf where it is undefined."""
        with np.errstate(all="ignore"):
            out = np.asarray(self._fn(metrics), dtype=float)
        if out.ndim == 0 and metrics:  # a constant objective: one value per combination all the same
            out = np.full(len(np.atleast_1d(next(iter(metrics.values())))), float(out))
        return out

    def __str__(self) -> str:
        return self.expression


def parse_objective(text: Any, *, field: str = "objective", names: tuple[str, ...] = METRICS) -> Objective:
    """Parse ``text`` with :mod:`ast`, allowing only metric names, numbers and arithmetic.

    Why not ``eval``: a params file may come from anyone, and an objective is
    evaluated on every combination; the parser builds the computation from a
    whitelist of nodes, so nothing else (attributes, calls, imports) can run.
    Raises :class:`~toolkit.errors.ParamsError` naming ``field``.
    """
    allowed = _OBJECTIVE_HELP.format(names=", ".join(names))
    if not isinstance(text, str) or not text.strip():
        raise ParamsError(field, text, allowed)
    if len(text) > _MAX_OBJECTIVE_CHARS:
        raise ParamsError(field, text[:60] + "...", f"at most {_MAX_OBJECTIVE_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ParamsError(field, text, f"a valid expression ({getattr(exc, 'msg', exc)}); {allowed}") from None
    used: list[str] = []

    def build(node: ast.AST) -> Callable[[Mapping[str, Any]], Any]:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            value = float(node.value)
            return lambda m: value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ParamsError(field, text, f"known metric names; '{node.id}' is not one. {allowed}")
            used.append(node.id)
            name = node.id
            return lambda m: np.asarray(m[name], dtype=float)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            return lambda m: sign * inner(m)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            op = _BINOPS[type(node.op)]
            left, right = build(node.left), build(node.right)
            return lambda m: op(left(m), right(m))
        if isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else None
            if fname not in _FUNCS:
                raise ParamsError(field, text, f"only the functions abs, min and max; {allowed}")
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise ParamsError(field, text, f"{fname}() with plain positional arguments; {allowed}")
            n_min, fn = _FUNCS[fname]
            n = len(node.args)
            if (fname == "abs" and n != 1) or n < n_min:
                want = "exactly 1 argument" if fname == "abs" else "at least 2 arguments"
                raise ParamsError(field, text, f"{fname}() with {want}")
            args = [build(a) for a in node.args]
            return lambda m: fn(*(a(m) for a in args))
        raise ParamsError(field, text, f"{allowed}; {_describe_node(node)} is not allowed")

    fn = build(tree.body)
    return Objective(text.strip(), tuple(dict.fromkeys(used)), fn)


# --------------------------------------------------------------------------- selection


def constraint_mask(metrics: Mapping[str, Any], constraints: Mapping[str, float | None]) -> np.ndarray:
    """True where a combination meets every constraint (NaN metrics fail a constraint)."""
    n = len(np.asarray(metrics[METRICS[0]]))
    ok = np.ones(n, dtype=bool)
    for name, bound in constraints.items():
        if bound is None:
            continue
        if name not in CONSTRAINT_RULES:
            raise ParamsError(f"constraints.{name}", bound, "one of " + ", ".join(CONSTRAINT_RULES))
        metric, op = CONSTRAINT_RULES[name]
        values = np.asarray(metrics[metric], dtype=float)
        with np.errstate(invalid="ignore"):
            ok &= (values >= bound) if op == ">=" else (values <= bound)
    return ok


def select_best(objective_values: np.ndarray, valid: np.ndarray) -> int | None:
    """Position of the best valid combination with a finite objective, or None.

    Ties go to the first in grid order (``argmax`` returns the first maximum), so
    the same trials always give the same choice.
    """
    obj = np.asarray(objective_values, dtype=float)
    candidates = np.flatnonzero(np.asarray(valid, dtype=bool) & np.isfinite(obj))
    if candidates.size == 0:
        return None
    return int(candidates[np.argmax(obj[candidates])])


# --------------------------------------------------------------------------- weights


def _records(combos: pd.DataFrame, fixed: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Strategy params of each combination: the fixed ones overlaid with the grid's.

    Made a block at a time: :func:`grid_warmup` walks a whole grid, which may hold a
    million combinations.
    """
    return ({**fixed, **row} for row in iter_combinations(combos))


def strategy_params(strategy: str, combos: pd.DataFrame, fixed: Mapping[str, Any]) -> list[Any]:
    """Each combination's parsed strategy parameters (the fixed ones overlaid with the grid's)."""
    from toolkit.strategies import registry

    cls = registry.get(strategy)
    return [cls.parse_params(p) for p in _records(combos, fixed)]


def decide_weights(
    strategy: str,
    combos: pd.DataFrame,
    fixed: Mapping[str, Any],
    symbols: list[str],
    bars: pd.DataFrame,
    *,
    trade_start: int = 0,
    fast_path: bool = True,
) -> tuple[list[str], np.ndarray]:
    """Order weights of every combination, shape ``(bars - trade_start, combinations, instruments)``.

    Decisions are computed on all of ``bars`` (the rows before ``trade_start`` are
    warm-up, so indicators are defined when trading starts) but orders are kept only
    from ``trade_start``: NaN where nothing is ordered, the target weights on
    rebalance bars, and always on the first traded bar so each window starts by
    taking the position its strategy wants.

    The strategy decides the whole grid through its ``grid_decisions`` (a vectorised
    fast path where it has one); ``fast_path=False`` asks for one ``decisions()`` per
    combination instead (same results, the reference).
    """
    from toolkit.strategies import registry
    from toolkit.strategies.base import grid_decisions_one_by_one

    cls = registry.get(strategy)
    params = [cls.parse_params(p) for p in _records(combos, fixed)]
    if fast_path:
        grid = cls.grid_decisions(params, bars, symbols=symbols)
    else:
        grid = grid_decisions_one_by_one(cls, params, bars, symbols=symbols)
    rebalance = grid.rebalance.copy()
    rebalance[trade_start] = True
    return grid.instruments, np.where(rebalance[..., None], grid.weights, np.nan)[trade_start:]


def grid_warmup(strategy: str, combos: pd.DataFrame, fixed: Mapping[str, Any], symbols: list[str]) -> int:
    """Bars of warm-up the most demanding combination needs (``Strategy.warmup``).

    One figure for the whole grid, so every combination of a fold is decided on the
    same bars whichever chunk it falls in.
    """
    from toolkit.strategies import registry

    cls = registry.get(strategy)
    return max((cls(p, symbols=symbols).warmup for p in _records(combos, fixed)), default=0)


# --------------------------------------------------------------------------- simulate


def simulate(
    bars: pd.DataFrame,
    instruments: list[str],
    order_weights: np.ndarray,
    *,
    initial_cash: float,
    fees_bps: float,
    slippage_bps: float,
    fill: str,
):
    """One vectorbt portfolio per combination, all in ONE ``from_orders`` call.

    ``order_weights`` is ``(bars, combinations, instruments)``. The preparation of
    prices and sizes mirrors :func:`~toolkit.backtest.engine.run_backtest` step by
    step (no trading without a price, next-open shift, carried valuation prices);
    the columns are laid out combination-major, and a combination trading several
    instruments is a cash-sharing group like run_backtest's single portfolio.
    """
    import vectorbt as vbt

    n_bars, n_combos, k = order_weights.shape
    close = bars.loc[:, [(s, "close") for s in instruments]].droplevel(1, axis=1).astype(float)
    have_close = close.notna().to_numpy()
    size = np.where(have_close[:, None, :], order_weights, np.nan)
    if fill == "close":
        price = close
    elif fill == "next_open":
        opens = bars.loc[:, [(s, "open") for s in instruments]].droplevel(1, axis=1).astype(float)
        shifted = np.full_like(size, np.nan)
        shifted[1:] = size[:-1]
        size = np.where(opens.notna().to_numpy()[:, None, :], shifted, np.nan)
        price = opens
    else:
        raise ValueError(f"fill: got {fill!r}; allowed: close, next_open")
    val_close = close.ffill().bfill()
    price = price.fillna(val_close)
    tile = (1, n_combos)
    grouped = k > 1
    size = size.reshape(n_bars, n_combos * k)
    return vbt.Portfolio.from_orders(
        np.tile(val_close.to_numpy(), tile),
        size,
        size_type="targetpercent",
        direction="longonly",
        price=np.tile(price.to_numpy(), tile),
        fees=fees_bps / 1e4,
        slippage=slippage_bps / 1e4,
        init_cash=float(initial_cash),
        cash_sharing=grouped,
        group_by=np.repeat(np.arange(n_combos), k) if grouped else None,
        call_seq="auto" if grouped else None,
        # At most one order per cell with a size: vectorbt would otherwise allocate
        # order records for every cell (56 bytes x bars x columns).
        max_orders=max(1, int(np.count_nonzero(~np.isnan(size)))),
        freq="1D",
        engine="rust",
    )


def _release(pf) -> None:
    """Free a portfolio's arrays now rather than at Python's next full GC pass.

    vectorbt objects (the portfolio, its cached order and trade records) sit in
    reference cycles (their indexers point back at them), so dropping the last
    reference frees nothing until a full collection, which runs only every few dozen
    chunks: memory would grow with the number of chunks instead of staying at one
    chunk's worth. A full ``gc.collect()`` per chunk costs 0.1 s with vectorbt
    loaded; emptying these objects' attributes breaks the cycles for free.
    """
    cached = [v for k, v in vars(pf).items() if k.startswith("__cached_") and type(v).__module__.startswith("vectorbt")]
    for obj in [pf, *cached]:
        vars(obj).clear()


# --------------------------------------------------------------------------- metrics


def _rows(x: np.ndarray) -> np.ndarray:
    """(bars, columns) -> contiguous (columns, bars).

    One bars vector counts as one column: vectorbt returns a Series, not a frame, for
    a portfolio of a single group (one combination of several instruments).
    """
    a = np.asarray(x, dtype=float)
    return np.ascontiguousarray((a[:, None] if a.ndim == 1 else a).T)


def _group_sum(x: np.ndarray, k: int) -> np.ndarray:
    """Sum instrument columns of each combination: (C*k, T) -> (C, T)."""
    return x if k == 1 else x.reshape(-1, k, x.shape[1]).sum(axis=1)


def metrics_from_arrays(
    equity: np.ndarray,
    *,
    initial_cash: float,
    timestamps_ns: np.ndarray,
    positions: np.ndarray,
    holdings_value: np.ndarray,
    traded_value: np.ndarray,
    trades: Mapping[str, np.ndarray],
    risk_free_rate: float = 0.0,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every metric of :func:`toolkit.backtest.metrics.compute_metrics`, per row.

    ``equity``, ``positions`` (sum of |shares|) and ``holdings_value`` (sum of
    |value|) are ``(combinations, bars)``; ``traded_value`` is the |value| traded per
    combination (both ways: turnover halves it); ``trades`` holds per-combination
    ``n_trades``, ``n_closed``, ``n_wins``, ``gross_profit`` and ``gross_loss`` of
    flat-to-flat round trips and ``n_partial_exits``. Undefined
    values are NaN (``compute_metrics`` writes None). Returns the metrics and the
    daily returns ``(combinations, bars)``.
    """
    _, n = equity.shape
    prev = np.empty_like(equity)
    prev[:, 0] = initial_cash
    prev[:, 1:] = equity[:, :-1]
    r = equity / prev - 1.0
    rf = (1.0 + risk_free_rate) ** (1.0 / TRADING_DAYS) - 1.0
    ex = r - rf
    last = equity[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        total = last / initial_cash - 1.0
        cagr = np.where(last > 0, np.power(np.maximum(last, 0) / initial_cash, TRADING_DAYS / n) - 1.0, -1.0)
        mean = ex.mean(axis=1)
        std = ex.std(axis=1, ddof=1)
        vol = r.std(axis=1, ddof=1) * math.sqrt(TRADING_DAYS)
        sharpe = np.where(std > 0, mean / std * math.sqrt(TRADING_DAYS), np.nan)
        downside = np.sqrt((np.minimum(ex, 0.0) ** 2).mean(axis=1)) * math.sqrt(TRADING_DAYS)
        sortino = np.where(downside > 0, mean * TRADING_DAYS / downside, np.nan)
        peak = np.maximum(np.maximum.accumulate(equity, axis=1), initial_cash)  # initial cash: the first peak
        mdd = (equity / peak - 1.0).min(axis=1)
        calmar = np.where(mdd < 0, cagr / np.abs(mdd), np.nan)
        closed = trades["n_closed"]
        win_rate = np.where(closed > 0, trades["n_wins"] / closed, np.nan)
        profit_factor = np.where(trades["gross_loss"] > 0, trades["gross_profit"] / trades["gross_loss"], np.nan)
        gross = (holdings_value / equity).mean(axis=1)
        years = n / TRADING_DAYS
        turnover = traded_value / 2.0 / equity.mean(axis=1) / years
    metrics = {
        "total_return": total,
        "cagr": cagr,
        "volatility": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        "max_drawdown": mdd,
        "max_drawdown_duration_days": _drawdown_duration_days(equity, peak, timestamps_ns),
        "win_rate": win_rate,
        "profit_factor": profit_factor,
        "n_trades": trades["n_trades"].astype(float),
        "n_partial_exits": trades["n_partial_exits"].astype(float),
        "exposure": (positions > 0).mean(axis=1),
        "avg_gross_exposure": gross,
        "turnover": turnover,
        "final_equity": last.copy(),
    }
    return {k: np.where(np.isfinite(v), v, np.nan) for k, v in metrics.items()}, r


def _drawdown_duration_days(equity: np.ndarray, peak: np.ndarray, ts_ns: np.ndarray) -> np.ndarray:
    """Longest peak-to-recovery span in calendar days, per row (see metrics.py).

    A span starts at the last bar on a peak and ends at the first bar back at or
    above it (or at the last bar when never recovered): on every bar t that is under
    water or has just recovered, its span is ``t - last peak bar before t``.
    """
    n_rows, n = equity.shape
    under = equity < peak
    if n < 2 or not under.any():
        return np.zeros(n_rows)
    pos = np.where(~under, np.arange(n), 0)
    last_peak = np.maximum.accumulate(pos, axis=1)
    involved = under[:, 1:] | under[:, :-1]
    span_ns = ts_ns[1:][None, :] - ts_ns[last_peak[:, :-1]]
    longest = np.where(involved, span_ns, 0).max(axis=1)
    return longest / 86_400e9


def portfolio_metrics(
    pf, *, n_combos: int, k: int, initial_cash: float, index: pd.Index, risk_free_rate: float = 0.0
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Metrics (and daily returns) of each combination of a :func:`simulate` portfolio."""
    equity = _rows(pf.value().to_numpy())
    positions = _group_sum(np.abs(_rows(pf.assets().to_numpy())), k)
    holdings = _group_sum(np.abs(_rows(pf.asset_value(group_by=False).to_numpy())), k)
    orders = pf.orders.values
    group_of_order = orders["col"] // k
    traded = np.bincount(group_of_order, weights=np.abs(orders["size"] * orders["price"]), minlength=n_combos)
    # Round trips are vectorbt's positions (flat to flat, as in run_backtest's trades
    # table); every sell is one exit trade, so exit trades beyond one per round trip
    # are the partial exits (trims by a rebalance).
    rec = pf.positions.values
    g = rec["col"] // k
    closed = rec["status"] == 1
    pnl = rec["pnl"]
    trades = {
        "n_trades": np.bincount(g, minlength=n_combos),
        "n_closed": np.bincount(g[closed], minlength=n_combos),
        "n_wins": np.bincount(g[closed & (pnl > 0)], minlength=n_combos),
        "gross_profit": np.bincount(g[closed & (pnl > 0)], weights=pnl[closed & (pnl > 0)], minlength=n_combos),
        "gross_loss": -np.bincount(g[closed & (pnl < 0)], weights=pnl[closed & (pnl < 0)], minlength=n_combos),
        "n_partial_exits": np.bincount(pf.exit_trades.values["col"] // k, minlength=n_combos)
        - np.bincount(g, minlength=n_combos),
    }
    ts = pd.DatetimeIndex(index).as_unit("ns").asi8
    return metrics_from_arrays(
        equity,
        initial_cash=initial_cash,
        timestamps_ns=ts,
        positions=positions,
        holdings_value=holdings,
        traded_value=traded,
        trades=trades,
        risk_free_rate=risk_free_rate,
    )


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class GridTask:
    """One unit of work: a chunk of combinations on one window of bars.

    Decisions use bars ``[decide_start, stop)``; trading and metrics use
    ``[start, stop)``. ``key`` is the fold number (0 for the full-sample pass).
    Plain data only, so a task pickles to a dask worker unchanged.
    """

    key: int
    chunk: int
    decide_start: int
    start: int
    stop: int
    combos: pd.DataFrame
    strategy: str
    fixed: dict[str, Any]
    symbols: tuple[str, ...]
    initial_cash: float
    fees_bps: float
    slippage_bps: float
    fill: str
    risk_free_rate: float = 0.0
    keep_returns: bool = False

    @property
    def n_combos(self) -> int:
        return len(self.combos)


@dataclass
class GridResult:
    """Metrics of a task's combinations (index ``combination``) and optionally their returns."""

    key: int
    chunk: int
    metrics: pd.DataFrame
    returns: np.ndarray | None = None  # (combinations, bars), float64


def simulate_task(task: GridTask, bars: pd.DataFrame) -> tuple[Any, list[str], pd.DataFrame]:
    """Decide and simulate one chunk: its portfolio, the instruments traded and the traded bars.

    The first half of :func:`evaluate_task`, on its own so that one combination of a
    fold can be re-run exactly as the walk-forward ran it, equity curve included
    (:mod:`toolkit.optimize.fold_replay`).
    """
    window = bars.iloc[task.decide_start : task.stop]
    instruments, weights = decide_weights(
        task.strategy, task.combos, task.fixed, list(task.symbols), window, trade_start=task.start - task.decide_start
    )
    trade_bars = bars.iloc[task.start : task.stop]
    pf = simulate(
        trade_bars,
        instruments,
        weights,
        initial_cash=task.initial_cash,
        fees_bps=task.fees_bps,
        slippage_bps=task.slippage_bps,
        fill=task.fill,
    )
    return pf, instruments, trade_bars


#: Combinations per chunk of the vectorbt path: its memory grows with bars x combinations.
VECTORBT_CHUNK = 250
#: Most combinations per chunk of a fused kernel: a chunk's memory is one metrics row
#: (128 bytes) and one parsed parameter object per combination, so chunks only add
#: per-call overhead; this cap keeps the parameter objects to a few tens of MB.
FUSED_CHUNK = 20_000
#: Bytes of daily returns one fused chunk may keep (``keep_returns``: a row of bars per combination).
RETURNS_BUDGET_BYTES = 128 * 2**20


def chunk_size_for(setting: int | str, strategy: str, n_bars: int, *, keep_returns: bool = False) -> int:
    """Combinations per chunk for ``setting`` (an int, or ``"auto"``).

    ``"auto"``: :data:`VECTORBT_CHUNK` for a strategy without a fused kernel; else
    :data:`FUSED_CHUNK`, lowered when returns are kept so a chunk's returns
    (``combinations x n_bars`` float64) stay within :data:`RETURNS_BUDGET_BYTES`.
    A combination's metrics do not depend on its chunk, so the setting changes speed
    and memory only.
    """
    if setting != "auto":
        return int(setting)
    from toolkit.optimize.kernels import KERNELS

    if strategy not in KERNELS:
        return VECTORBT_CHUNK
    if not keep_returns:
        return FUSED_CHUNK
    return max(1, min(FUSED_CHUNK, RETURNS_BUDGET_BYTES // (8 * max(1, n_bars))))


#: Ways :func:`evaluate_task` can evaluate a chunk.
ENGINES = ("auto", "fused", "vectorbt")


def evaluate_task(task: GridTask, bars: pd.DataFrame, engine: str = "auto") -> GridResult:
    """Decide, simulate and measure one chunk: the function executors run.

    ``engine="auto"`` runs the strategy's fused kernel (:mod:`toolkit.optimize.kernels`)
    when it has one, else the vectorbt path; ``"vectorbt"`` always runs the vectorbt
    path (the reference the kernels are tested and benchmarked against); ``"fused"``
    requires a kernel. Both paths give the same metrics (relative 1e-9, counts exact).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine: got {engine!r}; allowed: {', '.join(ENGINES)}")
    if engine != "vectorbt":
        from toolkit.optimize.kernels import kernel_module
        from toolkit.optimize.kernels.task import evaluate_fused

        module = kernel_module(task.strategy)
        if module is not None:
            return evaluate_fused(task, bars, module)
        if engine == "fused":
            raise ValueError(f"engine: got 'fused'; strategy {task.strategy!r} has no fused kernel")
    pf, instruments, trade_bars = simulate_task(task, bars)
    metrics, returns = portfolio_metrics(
        pf,
        n_combos=task.n_combos,
        k=len(instruments),
        initial_cash=task.initial_cash,
        index=trade_bars.index,
        risk_free_rate=task.risk_free_rate,
    )
    frame = pd.DataFrame(metrics, index=task.combos.index)[list(METRICS)]
    for name in ("n_trades", "n_partial_exits"):
        frame[name] = frame[name].astype(np.int64)
    _release(pf)
    return GridResult(task.key, task.chunk, frame, returns if task.keep_returns else None)
