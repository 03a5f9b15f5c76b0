"""The metric glossary: every figure a report shows, defined once, rendered as one HTML section.

A reader who meets "Sortino 0.84" or "MAE -12%" in a report should find, one click
away, what it is and how it was computed. :data:`GLOSSARY` holds one
:class:`GlossaryEntry` per figure (name, definition, formula in words, how it is
written); :func:`glossary_html` renders them as a self-contained ``<section>`` (its
own scoped CSS, no script, no external resource) whose entries carry stable anchors
(:func:`glossary_anchor`) so a table cell or a heading can link to its definition.

Keys are the names the numbers have where they are produced: the keys of
``metrics.json`` (:func:`toolkit.backtest.metrics.compute_metrics`) and of
:func:`toolkit.backtest.tearsheet_stats.tearsheet_metrics`; a table's columns are
keyed ``<table>.<column>`` (``drawdown.depth``, ``trade.mae``, ``rolling.beta``...).
For the keys of ``metrics.json`` the name and kind are those of
:data:`toolkit.report.metric_format.METRIC_FORMATS` (a test keeps them equal).

``kind`` says how a value is written (:mod:`toolkit.report.metric_format`), plus
``date`` for the dates of a table.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

__all__ = ["GLOSSARY", "GLOSSARY_CSS", "GLOSSARY_GROUPS", "GlossaryEntry", "GlossaryKind", "glossary_anchor",
           "glossary_entry", "glossary_html"]

GlossaryKind = Literal["percent", "ratio", "count", "days", "money", "number", "date", "text"]

#: Section headings, in the order the glossary shows them.
GLOSSARY_GROUPS = (
    "Returns", "Risk", "Against the benchmark", "Best and worst", "Drawdowns", "Distribution of returns",
    "Rolling figures", "Exposure and holdings", "Trades", "Regime cells", "Overfitting (walk-forward)",
)


@dataclass(frozen=True)
class GlossaryEntry:
    """One figure: its ``key``, display ``name``, what it means, how it is computed, how it is written."""

    key: str
    name: str
    group: str
    definition: str
    formula: str
    kind: GlossaryKind


_RF = "r are the daily returns of the equity curve (the first against the initial cash), rf the daily risk-free rate"


def _e(key: str, name: str, group: str, kind: GlossaryKind, definition: str, formula: str) -> GlossaryEntry:
    return GlossaryEntry(key=key, name=name, group=group, definition=definition, formula=formula, kind=kind)


_ENTRIES = (
    # ----------------------------------------------------------------- returns
    _e("total_return", "Total return", "Returns", "percent",
       "What the run made over its whole length, as a fraction of the money it started with.",
       "final equity / initial cash - 1"),
    _e("cagr", "CAGR", "Returns", "percent",
       "Compound annual growth rate: the constant yearly return that would give the same final equity.",
       "(final equity / initial cash) ^ (252 / number of bars) - 1"),
    _e("final_equity", "Final equity", "Returns", "money",
       "Cash plus the market value of every holding on the last bar.",
       "cash + sum of position values on the last bar"),
    _e("yearly.return", "Yearly return", "Returns", "percent",
       "Return of each calendar year (UTC dates), the strategy beside the benchmark; a partial first or last "
       "year counts as it is.",
       "product over the year's bars of (1 + r) - 1"),
    _e("yearly.difference", "Yearly difference", "Returns", "percent",
       "How far the strategy was ahead of (or behind) the benchmark in a calendar year, in return points.",
       "strategy's yearly return - benchmark's yearly return"),
    _e("monthly_return", "Monthly return", "Returns", "percent",
       "Return of each calendar month, the cells of the monthly heatmap.",
       "product over the month's bars of (1 + r) - 1"),
    # ----------------------------------------------------------------- risk
    _e("volatility", "Volatility (annual)", "Risk", "percent",
       "How much the daily returns swing, scaled to a year.",
       "standard deviation of r (ddof 1) x sqrt(252)"),
    _e("sharpe", "Sharpe ratio", "Risk", "ratio",
       "Return earned above the risk-free rate per unit of volatility, annualised.",
       f"mean(r - rf) / std(r - rf) x sqrt(252), where {_RF}"),
    _e("sortino", "Sortino ratio", "Risk", "ratio",
       "Like the Sharpe ratio, but only the downside swings count as risk.",
       "mean(r - rf) x 252 / (sqrt(mean(min(r - rf, 0)^2)) x sqrt(252))"),
    _e("calmar", "Calmar ratio", "Risk", "ratio",
       "Yearly growth per unit of the worst loss from a peak.",
       "CAGR / |max drawdown|"),
    _e("max_drawdown", "Max drawdown", "Risk", "percent",
       "The deepest fall of equity below its previous peak (the initial cash is the first peak).",
       "min over bars of (equity / running peak - 1)"),
    _e("max_drawdown_duration_days", "Max drawdown duration (days)", "Risk", "days",
       "The longest time spent below a previous peak, from the peak to the recovery (or to the last bar).",
       "longest span, in calendar days, from a peak bar to the first bar back at or above it"),
    _e("longest_flat_days", "Longest flat period (days)", "Risk", "days",
       "The longest time without a new equity high; unlike a drawdown it also counts time spent at the peak "
       "(for example in cash).",
       "longest span, in calendar days, between one new high and the next (or the last bar)"),
    # ----------------------------------------------------------------- benchmark
    _e("alpha", "Alpha (annual)", "Against the benchmark", "percent",
       "Return not explained by the exposure to the benchmark (Jensen's alpha), compounded to a year.",
       "(1 + mean(r - rf - beta x (b - rf))) ^ 252 - 1, b the benchmark's daily returns"),
    _e("beta", "Beta", "Against the benchmark", "ratio",
       "How much the strategy moves when the benchmark moves 1%.",
       "covariance(r, b) / variance(b) of daily returns"),
    _e("correlation", "Correlation", "Against the benchmark", "ratio",
       "How closely the daily returns move with the benchmark's (1 in lockstep, 0 unrelated).",
       "Pearson correlation of r and b"),
    _e("tracking_error", "Tracking error (annual)", "Against the benchmark", "percent",
       "How much the return differs from the benchmark's, day to day, scaled to a year.",
       "std(r - b) x sqrt(252)"),
    _e("information_ratio", "Information ratio", "Against the benchmark", "ratio",
       "Return above the benchmark per unit of tracking error, annualised like the Sharpe ratio.",
       "mean(r - b) / std(r - b) x sqrt(252)"),
    _e("capture", "Return capture (CAGR ratio)", "Against the benchmark", "ratio",
       "The strategy's yearly growth as a multiple of the benchmark's over all bars (empyrical's capture). Not "
       "the up/down capture ratio some tearsheets call \"capture ratio\": that one is below.",
       "CAGR of r / CAGR of b"),
    _e("up_capture", "Up capture", "Against the benchmark", "ratio",
       "How much of the benchmark's rise the strategy caught, on the days the benchmark rose.",
       "CAGR of r / CAGR of b, both over the bars where b > 0"),
    _e("down_capture", "Down capture", "Against the benchmark", "ratio",
       "How much of the benchmark's fall the strategy took, on the days the benchmark fell (lower is better).",
       "CAGR of r / CAGR of b, both over the bars where b < 0"),
    _e("up_down_capture", "Up/down capture ratio", "Against the benchmark", "ratio",
       "Up capture over down capture (what Morningstar and pyfolio call the capture ratio): above 1 the strategy "
       "caught more of the benchmark's rises than of its falls.",
       "up capture / down capture"),
    # ----------------------------------------------------------------- best and worst
    _e("best_day", "Best day", "Best and worst", "percent", "The largest daily return.", "max of r"),
    _e("worst_day", "Worst day", "Best and worst", "percent", "The lowest daily return.", "min of r"),
    _e("best_month", "Best month", "Best and worst", "percent", "The largest calendar-month return.",
       "max of the monthly returns"),
    _e("worst_month", "Worst month", "Best and worst", "percent", "The lowest calendar-month return.",
       "min of the monthly returns"),
    _e("best_year", "Best year", "Best and worst", "percent", "The largest calendar-year return.",
       "max of the yearly returns"),
    _e("worst_year", "Worst year", "Best and worst", "percent", "The lowest calendar-year return.",
       "min of the yearly returns"),
    # ----------------------------------------------------------------- drawdowns
    _e("drawdown.underwater", "Drawdown (underwater)", "Drawdowns", "percent",
       "How far equity is below its highest level so far, bar by bar (0 at a new high).",
       "equity / running peak - 1"),
    _e("drawdown.start", "Drawdown start", "Drawdowns", "date",
       "The bar of the peak the drawdown fell from (the first bar when it fell from the initial cash).",
       "last bar at the peak before equity went below it"),
    _e("drawdown.trough", "Drawdown trough", "Drawdowns", "date",
       "The bar where the drawdown was deepest.", "first bar at the episode's lowest equity"),
    _e("drawdown.recovery", "Drawdown recovery", "Drawdowns", "date",
       "The first bar back at or above the peak; empty while the drawdown lasts.",
       "first bar after the trough with equity >= the peak"),
    _e("drawdown.depth", "Drawdown depth", "Drawdowns", "percent",
       "How deep the drawdown went below its peak.", "equity at the trough / peak - 1"),
    _e("drawdown.length_days", "Drawdown length (days)", "Drawdowns", "days",
       "How long the drawdown lasted, from the peak to the recovery (to the last bar if not recovered).",
       "calendar days from start to recovery"),
    _e("drawdown.recovery_days", "Recovery time (days)", "Drawdowns", "days",
       "How long it took to climb back from the trough to the peak; empty while not recovered.",
       "calendar days from trough to recovery"),
    # ----------------------------------------------------------------- distribution
    _e("distribution.mean", "Mean return", "Distribution of returns", "percent",
       "The average daily (or monthly) return, not annualised.", "mean of r"),
    _e("distribution.std", "Standard deviation", "Distribution of returns", "percent",
       "The spread of daily (or monthly) returns, not annualised; the normal curve drawn over the histogram "
       "has this standard deviation and the mean above.",
       "sample standard deviation of r (ddof 1)"),
    _e("daily_skew", "Skew (daily)", "Distribution of returns", "ratio",
       "Asymmetry of the daily returns: negative when large losses are more common than large gains; 0 for a "
       "normal.",
       "bias-corrected sample skewness G1 = m3 / m2^1.5 x sqrt(n (n - 1)) / (n - 2), m_k the k-th central moment"),
    _e("daily_excess_kurtosis", "Excess kurtosis (daily)", "Distribution of returns", "ratio",
       "How fat the tails of the daily returns are compared with a normal (0 for a normal, above 0 fatter). Every "
       "kurtosis the reports show is excess kurtosis, kurtosis - 3, never the raw (Pearson) kurtosis, which is 3 "
       "for a normal.",
       "bias-corrected sample excess kurtosis G2 = ((n + 1) g2 + 6) (n - 1) / ((n - 2)(n - 3)), "
       "g2 = m4 / m2^2 - 3"),
    _e("tail_ratio", "Tail ratio", "Distribution of returns", "ratio",
       "Size of the big up days against the big down days: above 1, the right tail is the longer.",
       "|95th percentile of r| / |5th percentile of r|"),
    # ----------------------------------------------------------------- rolling
    _e("rolling.sharpe", "Rolling Sharpe", "Rolling figures", "ratio",
       "The Sharpe ratio over the trailing 6 months (126 bars) or 12 months (252 bars), shown at the window's "
       "last bar.",
       "Sharpe ratio of the window's daily returns"),
    _e("rolling.volatility", "Rolling volatility", "Rolling figures", "percent",
       "Annualised volatility over the trailing 126 or 252 bars.", "std of the window's r x sqrt(252)"),
    _e("rolling.beta", "Rolling beta", "Rolling figures", "ratio",
       "Beta to the benchmark over the trailing 126 or 252 bars.",
       "covariance(r, b) / variance(b) over the window"),
    # ----------------------------------------------------------------- exposure
    _e("exposure", "Exposure (time in market)", "Exposure and holdings", "percent",
       "The share of bars with any open position.", "bars with a position / all bars"),
    _e("avg_gross_exposure", "Average gross exposure", "Exposure and holdings", "percent",
       "The average of the gross leverage over all bars.", "mean over bars of sum(|position value|) / equity"),
    _e("turnover", "Turnover (annual, one-way)", "Exposure and holdings", "percent",
       "How much of the portfolio is traded in a year, counting a sale and the purchase it pays for once.",
       "traded value / 2 / mean equity / years"),
    _e("exposure.long", "Long exposure", "Exposure and holdings", "percent",
       "Value of the long holdings as a fraction of equity, per bar.", "sum of positive position values / equity"),
    _e("exposure.short", "Short exposure", "Exposure and holdings", "percent",
       "Value of the short holdings as a fraction of equity, per bar (negative).",
       "sum of negative position values / equity"),
    _e("exposure.gross", "Gross leverage", "Exposure and holdings", "percent",
       "Everything held, long or short, as a fraction of equity, per bar (100% = fully invested, no borrowing).",
       "sum of |position value| / equity"),
    _e("exposure.net", "Net leverage", "Exposure and holdings", "percent",
       "Long minus short holdings as a fraction of equity, per bar.", "sum of position values / equity"),
    _e("exposure.cash", "Cash share", "Exposure and holdings", "percent",
       "The share of equity not in positions, per bar (negative when borrowing).", "1 - net leverage"),
    _e("holdings.weight", "Holding weight", "Exposure and holdings", "percent",
       "Each symbol's holding as a fraction of equity, per bar.", "position value / equity"),
    _e("symbol.pnl", "P&L per symbol", "Exposure and holdings", "money",
       "What each symbol made or lost: the change in its holding's value plus what its fills brought in; the "
       "symbols' P&L adds up to the change in equity.",
       "sum over bars of (change in position value + sales - purchases - fees)"),
    _e("symbol.contribution", "Contribution to return", "Exposure and holdings", "percent",
       "Each symbol's share of the total return; the contributions add up to the total return.",
       "symbol's P&L / initial cash"),
    # ----------------------------------------------------------------- trades
    _e("n_trades", "Trades (round trips)", "Trades", "count",
       "Round trips, open ones included: a symbol's position from the order that opens it from flat to the one "
       "that brings it back to flat.",
       "number of flat-to-flat round trips"),
    _e("n_partial_exits", "Partial exits", "Trades", "count",
       "Sells that trim a position without closing it (rebalances); they belong to their round trip.",
       "sells - closed round trips"),
    _e("win_rate", "Win rate", "Trades", "percent",
       "The share of closed round trips that made money.", "closed round trips with pnl > 0 / closed round trips"),
    _e("profit_factor", "Profit factor", "Trades", "ratio",
       "Money made by winning round trips per unit lost by losing ones (empty without a loss).",
       "gross profit / gross loss of closed round trips"),
    _e("trade.pnl", "Round-trip P&L", "Trades", "money",
       "What a round trip made: its sales minus its purchases minus all its fees (an open one valued at the last "
       "close).",
       "sales - purchases - fees"),
    _e("trade.return", "Round-trip return", "Trades", "percent",
       "A round trip's P&L over what its buys cost.", "pnl / cost of the buys"),
    _e("trade.holding_days", "Holding period (days)", "Trades", "days",
       "How long the position was held, entry to exit (to the last bar while open).",
       "calendar days from entry to exit"),
    _e("trade.holding_bars", "Holding period (bars)", "Trades", "count",
       "How many bars the position was held.", "bars from entry to exit"),
    _e("trade.mae", "MAE", "Trades", "percent",
       "Maximum adverse excursion: the furthest the trade went against the trader while held, from the average "
       "entry price (0 when it never did).",
       "min(0, lowest close while held or exit price / entry price - 1)"),
    _e("trade.mfe", "MFE", "Trades", "percent",
       "Maximum favourable excursion: the furthest the trade went in the trader's favour while held.",
       "max(0, highest close while held or exit price / entry price - 1)"),
    # ----------------------------------------------------------------- regimes
    _e("regime.cell", "Regime cell", "Regime cells", "text",
       "One of the strategy's regimes, named by its spec: its number, the trend state and the volatility state that "
       "select it and the spec's name (v3.5b: 3 trend states x 2 volatility states = 6 cells, e.g. "
       "\"3: sideways / low vol (Drift)\").",
       "number: trend / volatility (name), as the strategy's regime_cells say"),
    _e("regime.days", "Days in cell", "Regime cells", "count",
       "Bars whose return was earned under the cell.", "number of bars labelled with the cell"),
    _e("regime.share", "Share of time", "Regime cells", "percent",
       "The share of the run spent in the cell.", "days in cell / all bars"),
    _e("regime.annual_return", "Annual return in cell", "Regime cells", "percent",
       "The yearly growth rate of the cell's returns chained together.",
       "product of (1 + r) over the cell's bars ^ (252 / days in cell) - 1"),
    _e("regime.volatility", "Volatility in cell", "Regime cells", "percent",
       "Annualised volatility of the cell's daily returns.", "std of the cell's r x sqrt(252)"),
    _e("regime.sharpe", "Sharpe in cell", "Regime cells", "ratio",
       "Sharpe ratio of the cell's daily returns.", "mean(r - rf) / std(r - rf) x sqrt(252) over the cell's bars"),
    _e("regime.max_drawdown", "Max drawdown in cell", "Regime cells", "percent",
       "Deepest fall of the cell's returns chained together below their running peak.",
       "min of (chained equity / running peak - 1)"),
    # ----------------------------------------------------------------- overfitting
    _e("psr", "PSR", "Overfitting (walk-forward)", "percent",
       "Probabilistic Sharpe ratio: the probability that the true Sharpe ratio of the out-of-sample record is "
       "above 0, allowing for its length, skew and kurtosis (no charge for the search).",
       "Phi((SR - 0) sqrt(n - 1) / sqrt(1 - skew SR + (excess kurtosis + 2) / 4 SR^2)), SR per bar "
       "(the paper's (kurtosis - 1) / 4 with its raw kurtosis = excess kurtosis + 3)"),
    _e("wf.excess_kurtosis", "Excess kurtosis (PSR/DSR input)", "Overfitting (walk-forward)", "ratio",
       "How fat the tails of the stitched out-of-sample daily returns are, as the PSR and DSR take them into "
       "account: excess kurtosis, 0 for a normal (the same convention as the backtest report). The PSR/DSR "
       "formulas use the raw kurtosis, excess kurtosis + 3, internally.",
       "m4 / m2^2 - 3, the plain moment estimate (not bias-corrected), m_k the k-th central moment"),
    _e("wf.skew", "Skew (PSR/DSR input)", "Overfitting (walk-forward)", "ratio",
       "How lopsided the stitched out-of-sample daily returns are: negative when the losses are the larger "
       "surprises. A negative skew lowers the PSR and DSR.",
       "m3 / m2^1.5, the plain moment estimate (not bias-corrected), m_k the k-th central moment"),
    _e("wf.n_configurations", "Configurations N", "Overfitting (walk-forward)", "count",
       "How many configurations the search tried: the N whose luckiest member SR0 describes.",
       "number of combinations of the parameter grid kept (those the strategy's validator accepts)"),
    _e("wf.sharpe_spread", "Spread of the trials' Sharpes", "Overfitting (walk-forward)", "ratio",
       "How far apart the configurations' Sharpe ratios (annualised) are over the same out-of-sample bars; the "
       "wider they spread, the higher the Sharpe luck alone can give the best of them (SR0).",
       "standard deviation across configurations of their Sharpe ratios x sqrt(252)"),
    _e("wf.objective", "Objective", "Overfitting (walk-forward)", "number",
       "What the walk-forward maximises in sample to choose a fold's combination (the params' objective: a "
       "metric such as the Sharpe ratio, or an expression of metrics).",
       "the objective expression evaluated on the combination's in-sample metrics"),
    _e("wf.meets_constraints", "Meets constraints", "Overfitting (walk-forward)", "text",
       "Whether the combination satisfied the params' constraints in sample (for example a minimum number of "
       "trades); only those that do can be chosen.",
       "every constraint expression true on the in-sample metrics"),
    _e("wf.chosen", "Chosen", "Overfitting (walk-forward)", "text",
       "Whether this combination was the fold's choice: the best objective among those meeting the constraints, "
       "the one that then traded the fold's out-of-sample window.",
       "argmax of the objective over the fold's combinations that meet the constraints"),
    _e("dsr", "DSR", "Overfitting (walk-forward)", "percent",
       "Deflated Sharpe ratio: the probability that the true Sharpe ratio is above what the luckiest of the N "
       "configurations searched would show by chance.",
       "PSR against SR0 instead of 0, SR0 the expected maximum Sharpe of N skill-less trials"),
    _e("sr0", "SR0", "Overfitting (walk-forward)", "ratio",
       "The Sharpe ratio (annualised) the best of N skill-less configurations would show by luck.",
       "sqrt(variance of the trials' Sharpes) x ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))"),
    _e("pbo", "PBO", "Overfitting (walk-forward)", "percent",
       "Probability of backtest overfitting: how often the configuration best in sample ranks below the median "
       "out of sample, over the combinatorially symmetric cross-validation splits.",
       "share of CSCV splits whose in-sample best has an out-of-sample rank logit <= 0"),
    _e("pbo.logit", "CSCV logit", "Overfitting (walk-forward)", "number",
       "For one split of the blocks into in-sample and out-of-sample halves: where the in-sample best "
       "configuration ranks out of sample, on a logit scale. Above 0 it beat the median; PBO is the share at or "
       "below 0.",
       "ln(w / (1 - w)), w the winner's relative out-of-sample rank in (0, 1)"),
    _e("wf.is_sharpe", "In-sample Sharpe", "Overfitting (walk-forward)", "ratio",
       "Sharpe ratio (annualised) of a fold's chosen combination over the in-sample window it was chosen on.",
       "mean(r - rf) / std(r - rf) x sqrt(252) over the fold's in-sample bars"),
    _e("wf.oos_sharpe", "Out-of-sample Sharpe", "Overfitting (walk-forward)", "ratio",
       "Sharpe ratio (annualised) of a fold's chosen combination over the out-of-sample window it then traded.",
       "mean(r - rf) / std(r - rf) x sqrt(252) over the fold's out-of-sample bars"),
    _e("wf.degradation", "Degradation (OOS - IS)", "Overfitting (walk-forward)", "ratio",
       "How much Sharpe ratio a fold's choice lost from the window it was fitted on to the window it traded; "
       "strongly negative values across folds are the price of selection.",
       "out-of-sample Sharpe - in-sample Sharpe of the fold's choice"),
    _e("wf.full_sample_optimum", "Full-sample optimum", "Overfitting (walk-forward)", "ratio",
       "The combination the same objective and constraints pick with hindsight, over every bar of the sample; "
       "its curve is what perfect foresight of the parameters would have earned.",
       "argmax over the grid of the objective on all bars, among combinations meeting the constraints"),
)

#: Every entry, by key, in the glossary's order.
GLOSSARY: dict[str, GlossaryEntry] = {e.key: e for e in _ENTRIES}


def glossary_entry(key: str) -> GlossaryEntry:
    """The entry of ``key``; a ``KeyError`` naming the known keys when there is none."""
    try:
        return GLOSSARY[key]
    except KeyError:
        raise KeyError(f"glossary: got {key!r}; allowed: {', '.join(GLOSSARY)}") from None


def glossary_anchor(key: str) -> str:
    """The HTML id of ``key``'s entry (``metric-drawdown-depth``); link to it with ``#`` + this."""
    glossary_entry(key)
    return "metric-" + key.replace(".", "-").replace("_", "-")


_KIND_TEXT = {"percent": "percent", "ratio": "ratio", "count": "count", "days": "calendar days", "money": "money",
              "number": "number", "date": "date", "text": "text"}

#: The glossary's scoped styles. Its cell rule is more specific than the exported page's own
#: (``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td``, two classes, right-aligns every cell
#: for numbers): the class is repeated so the glossary's prose stays left-aligned.
GLOSSARY_CSS = """
.tk-glossary{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:1100px}
.tk-glossary h2{font-size:1.3em;margin:1em 0 .3em}
.tk-glossary h3{font-size:1.05em;margin:1.2em 0 .3em;color:#444}
.tk-glossary table{border-collapse:collapse;width:100%}
section.tk-glossary.tk-glossary table th,section.tk-glossary.tk-glossary table td{
border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:left;vertical-align:top}
section.tk-glossary.tk-glossary table th{background:#f6f6f6;font-weight:600}
.tk-glossary td.tk-name{white-space:nowrap;font-weight:600}
.tk-glossary td.tk-formula{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;color:#333}
.tk-glossary td.tk-kind{white-space:nowrap;color:#666}
.tk-glossary tr:target{background:#fff6d5}
"""


def glossary_html(keys: list[str] | tuple[str, ...] | None = None, *, title: str | None = "Metric glossary",
                  section_id: str = "metric-glossary") -> str:
    """The glossary as one self-contained HTML ``<section>`` (scoped CSS, no script, nothing external).

    ``keys``: the entries to show (all when None), in the glossary's order, grouped
    under :data:`GLOSSARY_GROUPS` headings; each row's id is :func:`glossary_anchor`.
    ``title=None`` leaves the heading out: a report notebook puts a markdown ``## Metric glossary``
    before it, so the heading is one of the page's own (same size, an id, in its anchor list).
    """
    wanted = list(GLOSSARY) if keys is None else [glossary_entry(k).key for k in keys]
    chosen = set(wanted)
    parts = [f'<section class="tk-glossary" id="{html.escape(section_id)}"><style>{GLOSSARY_CSS}</style>',
             "" if title is None else f"<h2>{html.escape(title)}</h2>",
             "<p>r: daily returns of the equity curve (the first bar against the initial cash); b: the benchmark's; "
             "rf: the daily risk-free rate ((1 + annual rate)^(1/252) - 1); 252 bars make a year; std is the sample "
             "standard deviation.</p>"]
    for group in GLOSSARY_GROUPS:
        rows = [e for e in GLOSSARY.values() if e.group == group and e.key in chosen]
        if not rows:
            continue
        parts.append(f"<h3>{html.escape(group)}</h3><table><thead><tr><th>Metric</th><th>What it means</th>"
                     "<th>How it is computed</th><th>Shown as</th></tr></thead><tbody>")
        for e in rows:
            parts.append(
                f'<tr id="{glossary_anchor(e.key)}"><td class="tk-name">{html.escape(e.name)}</td>'
                f"<td>{html.escape(e.definition)}</td><td class=\"tk-formula\">{html.escape(e.formula)}</td>"
                f'<td class="tk-kind">{_KIND_TEXT[e.kind]}</td></tr>'
            )
        parts.append("</tbody></table>")
    parts.append("</section>")
    return "".join(parts)
