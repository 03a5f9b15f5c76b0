"""Walk-forward folds: in-sample windows to fit on, out-of-sample windows to prove on.

Walk-forward analysis (Pardo, *The Evaluation and Optimization of Trading Strategies*,
2nd ed., 2008, ch. 11) picks parameters on an in-sample (IS) window, trades them on
the following out-of-sample (OOS) window, then steps forward and repeats. Stitching
the OOS windows together gives an equity curve made only of bars the chosen
parameters had never seen: the honest backtest.

Two schemes:

``rolling``
    The IS window keeps its length and slides: fold ``k`` fits on bars
    ``[k*step, k*step + in_sample)``. Adapts to regime changes, forgets old data.
``anchored``
    The IS window always starts at bar 0 and grows: fold ``k`` fits on bars
    ``[0, in_sample + k*step)``. Uses all history, adapts more slowly.

In both, fold ``k`` trades bars ``[is_end, is_end + out_of_sample)`` right after its
IS window. ``step`` defaults to ``out_of_sample`` so consecutive OOS windows touch
without overlapping, which is what stitching needs (an overlap would count bars
twice; a gap would leave bars untested). Lengths are counted in bars, not calendar
time, so a fold holds the same amount of evidence whatever the holidays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from toolkit.optimize.grid import OptimizeInputError, _is_int

__all__ = ["Fold", "folds_table", "walk_forward_folds"]

Scheme = Literal["rolling", "anchored"]
_SCHEMES = ("rolling", "anchored")


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold.

    ``number`` counts from 1. Timestamps are the first and last bar of each window,
    both included (``is_end`` is the last IS bar, not the first OOS bar).
    ``is_slice`` / ``oos_slice`` are the positional slices (``frame.iloc[fold.is_slice]``).
    """

    number: int
    is_start: pd.Timestamp
    is_end: pd.Timestamp
    oos_start: pd.Timestamp
    oos_end: pd.Timestamp
    is_slice: slice
    oos_slice: slice

    @property
    def n_in_sample(self) -> int:
        return self.is_slice.stop - self.is_slice.start

    @property
    def n_out_of_sample(self) -> int:
        return self.oos_slice.stop - self.oos_slice.start

    def in_sample(self, data: pd.DataFrame | pd.Series) -> Any:
        """The IS rows of ``data`` (indexed like the index the folds were built on)."""
        return data.iloc[self.is_slice]

    def out_of_sample(self, data: pd.DataFrame | pd.Series) -> Any:
        """The OOS rows of ``data`` (indexed like the index the folds were built on)."""
        return data.iloc[self.oos_slice]

    def __repr__(self) -> str:
        return (
            f"Fold {self.number}: IS {self.is_start} .. {self.is_end} ({self.n_in_sample} bars), "
            f"OOS {self.oos_start} .. {self.oos_end} ({self.n_out_of_sample} bars)"
        )


def _positive_int(field: str, value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise OptimizeInputError(field, value, "an int >= 1 (a number of bars)")
    return int(value)


def walk_forward_folds(
    index: pd.Index,
    *,
    scheme: Scheme,
    in_sample: int,
    out_of_sample: int,
    step: int | None = None,
    partial_last: bool = False,
) -> list[Fold]:
    """Split ``index`` into walk-forward folds.

    Parameters
    ----------
    index:
        The bar timestamps (sorted, unique), typically ``bars.index``.
    scheme:
        ``"rolling"`` (IS window of fixed length slides) or ``"anchored"`` (IS
        starts at the first bar and grows).
    in_sample:
        Bars in the first IS window (every IS window for ``rolling``).
    out_of_sample:
        Bars in each OOS window.
    step:
        Bars between the starts of consecutive folds. Defaults to ``out_of_sample``:
        OOS windows that neither overlap nor leave gaps. A smaller step makes OOS
        windows overlap (not stitchable); a larger one leaves untested bars.
    partial_last:
        If true, a last fold whose OOS window is cut short by the end of the data is
        kept (so the stitched OOS reaches the last bar); by default only full
        OOS windows are returned.

    Raises
    ------
    OptimizeInputError (a ``ValueError``)
        When an argument is not allowed or when not even one fold fits in the index.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise OptimizeInputError("index", type(index).__name__, "a pandas DatetimeIndex (bars.index)")
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        raise OptimizeInputError("index", f"duplicate timestamp {dup}", "unique timestamps")
    if not index.is_monotonic_increasing:
        raise OptimizeInputError("index", "timestamps out of order", "timestamps sorted in increasing order")
    if scheme not in _SCHEMES:
        raise OptimizeInputError("scheme", scheme, " or ".join(repr(s) for s in _SCHEMES))
    n_is = _positive_int("in_sample", in_sample)
    n_oos = _positive_int("out_of_sample", out_of_sample)
    n_step = n_oos if step is None else _positive_int("step", step)

    n = len(index)
    if n_is + n_oos > n and not (partial_last and n_is < n):
        raise OptimizeInputError(
            "in_sample + out_of_sample",
            f"{n_is} + {n_oos} = {n_is + n_oos} bars",
            f"at most the {n} bars in the index ({index[0] if n else '-'} .. {index[-1] if n else '-'}) "
            "so that at least one fold fits",
        )

    folds: list[Fold] = []
    k = 0
    while True:
        is_stop = n_is + k * n_step
        is_begin = 0 if scheme == "anchored" else k * n_step
        oos_stop = is_stop + n_oos
        if oos_stop > n:
            if not (partial_last and is_stop < n):
                break
            oos_stop = n
        folds.append(
            Fold(
                number=k + 1,
                is_start=index[is_begin],
                is_end=index[is_stop - 1],
                oos_start=index[is_stop],
                oos_end=index[oos_stop - 1],
                is_slice=slice(is_begin, is_stop),
                oos_slice=slice(is_stop, oos_stop),
            )
        )
        if oos_stop == n:
            break
        k += 1
    return folds


def folds_table(folds: list[Fold]) -> pd.DataFrame:
    """The folds as a table (one row per fold) for display and archiving."""
    return pd.DataFrame(
        [
            {
                "fold": f.number,
                "is_start": f.is_start,
                "is_end": f.is_end,
                "is_bars": f.n_in_sample,
                "oos_start": f.oos_start,
                "oos_end": f.oos_end,
                "oos_bars": f.n_out_of_sample,
            }
            for f in folds
        ],
        columns=["fold", "is_start", "is_end", "is_bars", "oos_start", "oos_end", "oos_bars"],
    ).set_index("fold")
