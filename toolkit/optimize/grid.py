"""Parameter grids: expand a spec into combinations, drop invalid ones, walk in chunks.

A grid spec is what a quant writes in a params file::

    {"fast": {"start": 5, "stop": 50, "step": 5},   # a range, stop included
     "slow": [100, 150, 200],                        # an explicit list
     "threshold": {"start": 0.1, "stop": 0.3, "step": 0.1}}

:func:`expand_grid` turns it into one row per combination, in a deterministic order
(the last parameter varies fastest, like nested loops written in spec order), so the
same spec always gives the same combination numbers: a walk-forward fold or an
archived run can refer to "combination 17" and mean the same thing tomorrow.

Ranges keep integers as integers (a window length of ``5.0`` is a bug waiting to
happen) and round floats to the precision the spec was written in, so a step of
``0.1`` gives ``0.3`` and not ``0.30000000000000004``: the value printed in a report
is the value typed in the params file and the value a later run will look up.

:func:`filter_valid` drops combinations a rule rejects (``fast >= slow``) and says how
many it dropped, so a grid that silently shrank to nothing is visible.
:func:`chunks` walks a big grid in bounded slices for bounded memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast, overload

import numpy as np
import pandas as pd

from toolkit.errors import ParamsError

__all__ = [
    "FilteredGrid",
    "OptimizeInputError",
    "chunks",
    "combination",
    "combinations",
    "expand_grid",
    "filter_valid",
]

#: Refuse grids bigger than this by default: a typo in a step (0.001 for 0.1) should
#: fail fast with a clear message, not exhaust memory.
DEFAULT_MAX_COMBINATIONS = 5_000_000

_RANGE_KEYS = ("start", "stop", "step")


class OptimizeInputError(ParamsError, ValueError):
    """Bad input to :mod:`toolkit.optimize`: names the field, the value and what is allowed.

    It is both a :class:`toolkit.errors.ParamsError` (the toolkit's "fix your
    parameters" error) and a :class:`ValueError` (what numerical code expects).
    """


# --------------------------------------------------------------------------- expand


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _is_real(x: Any) -> bool:
    return (_is_int(x) or isinstance(x, (float, np.floating))) and math.isfinite(float(x))


def _decimals(x: float | int) -> int:
    """Decimal places needed to write ``x`` as typed (``0.1`` -> 1, ``1e-4`` -> 4)."""
    exponent = Decimal(repr(float(x)) if not _is_int(x) else str(int(x))).normalize().as_tuple().exponent
    return max(0, -int(exponent)) if isinstance(exponent, int) else 0


def _expand_range(name: str, rng: Mapping[str, Any]) -> list[Any]:
    field = f"spec.{name}"
    keys = set(rng)
    if keys != set(_RANGE_KEYS):
        missing = [k for k in _RANGE_KEYS if k not in keys]
        extra = sorted(str(k) for k in keys - set(_RANGE_KEYS))
        detail = []
        if missing:
            detail.append(f"missing {missing}")
        if extra:
            detail.append(f"unknown {extra}")
        raise OptimizeInputError(
            field, dict(rng), f"a range with exactly the keys start, stop, step ({'; '.join(detail)})"
        )
    start, stop, step = rng["start"], rng["stop"], rng["step"]
    for key, val in (("start", start), ("stop", stop), ("step", step)):
        if not _is_real(val):
            raise OptimizeInputError(f"{field}.{key}", val, "a finite int or float")
    if step == 0:
        raise OptimizeInputError(f"{field}.step", step, "a non-zero number")
    if (stop - start) * step < 0:
        raise OptimizeInputError(
            f"{field}.step", step, f"a step whose sign leads from start={start!r} to stop={stop!r}"
        )
    # Inclusive stop, with a tolerance so 0.1..0.3 step 0.1 keeps 0.3.
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > DEFAULT_MAX_COMBINATIONS:
        raise OptimizeInputError(field, dict(rng), f"at most {DEFAULT_MAX_COMBINATIONS:,} values (got {n:,})")
    if _is_int(start) and _is_int(stop) and _is_int(step):
        return [int(start) + i * int(step) for i in range(n)]
    places = max(_decimals(start), _decimals(step))
    return [round(float(start) + i * float(step), places) for i in range(n)]


def _values(name: str, spec_value: Any) -> list[Any]:
    field = f"spec.{name}"
    if isinstance(spec_value, Mapping):
        values = _expand_range(name, spec_value)
    elif isinstance(spec_value, (list, tuple, np.ndarray, pd.Index, pd.Series)):
        values = list(spec_value)
        if not values:
            raise OptimizeInputError(field, spec_value, "a non-empty list of values")
    elif isinstance(spec_value, (str, bytes, int, float, bool, np.generic)) or spec_value is None:
        values = [spec_value]  # a fixed parameter
    else:
        raise OptimizeInputError(
            field, spec_value, "a list of values, a range {start, stop, step} or a single fixed value"
        )
    seen: set[Any] = set()
    for v in values:
        try:
            if v in seen:
                raise OptimizeInputError(
                    field, spec_value, f"distinct values ({v!r} appears twice: it would run the same combination twice)"
                )
            seen.add(v)
        except TypeError:  # unhashable values (lists, dicts): allowed, not deduplicated
            pass
    return values


def expand_grid(
    spec: Mapping[str, Sequence[Any] | Mapping[str, Any] | Any],
    *,
    max_combinations: int = DEFAULT_MAX_COMBINATIONS,
) -> pd.DataFrame:
    """One row per combination of the parameter values in ``spec``.

    Parameters
    ----------
    spec:
        Parameter name -> a list of values, a range ``{"start", "stop", "step"}``
        (stop included when it lies on the step grid; ints stay ints, floats are
        rounded to the decimals of ``start``/``step``), or a single fixed value.
    max_combinations:
        Refuse grids with more rows than this (a mistyped step fails fast).

    Returns
    -------
    DataFrame with one column per parameter in spec order and a ``RangeIndex``
    named ``combination``. Order is deterministic: the last parameter varies
    fastest (nested loops in spec order). Each column keeps its values' dtype
    (an all-int column is ``int64``).
    """
    if not isinstance(spec, Mapping):
        raise OptimizeInputError("spec", spec, "a mapping of parameter name -> values or range")
    if not spec:
        raise OptimizeInputError("spec", dict(spec), "at least one parameter")
    for name in spec:
        if not isinstance(name, str) or not name:
            raise OptimizeInputError("spec", name, "parameter names that are non-empty strings")
    if not _is_int(max_combinations) or max_combinations < 1:
        raise OptimizeInputError("max_combinations", max_combinations, "an int >= 1")

    columns = {name: _values(name, value) for name, value in spec.items()}
    sizes = [len(v) for v in columns.values()]
    total = math.prod(sizes)
    if total > max_combinations:
        shape = " x ".join(f"{n}={s}" for n, s in zip(columns, sizes, strict=True))
        raise OptimizeInputError(
            "spec", shape, f"at most max_combinations={max_combinations:,} combinations (this grid has {total:,})"
        )

    data: dict[str, pd.Series] = {}
    inner = total
    outer = 1
    for name, values in columns.items():
        k = len(values)
        inner //= k
        # Position of each row in this parameter's value list: repeat for the
        # faster parameters, tile for the slower ones.
        positions = np.tile(np.repeat(np.arange(k), inner), outer)
        outer *= k
        col = pd.Series(values) if _all_scalars(values) else pd.Series(values, dtype=object)
        data[name] = col.take(positions).reset_index(drop=True)
    frame = pd.DataFrame(data)
    frame.index = pd.RangeIndex(total, name="combination")
    return frame


def _all_scalars(values: list[Any]) -> bool:
    return all(np.isscalar(v) or v is None for v in values)


# --------------------------------------------------------------------------- filter


@dataclass(frozen=True)
class FilteredGrid:
    """The combinations a validator kept, and how many it dropped.

    Unpacks as ``grid, n_dropped = filter_valid(...)``. ``grid`` keeps the original
    ``combination`` numbers, so a kept row still names the same combination as in
    the full grid.
    """

    grid: pd.DataFrame
    n_dropped: int

    def __iter__(self) -> Iterator[Any]:
        return iter((self.grid, self.n_dropped))

    @property
    def n_kept(self) -> int:
        return len(self.grid)

    def reading(self) -> str:
        total = self.n_kept + self.n_dropped
        return f"kept {self.n_kept:,} of {total:,} combinations; dropped {self.n_dropped:,} the validator rejected"

    def __repr__(self) -> str:
        return f"FilteredGrid({self.reading()})"

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        return f"<p>{self.reading()}</p>" + self.grid.head(20).to_html()


@overload
def filter_valid(
    grid: pd.DataFrame, validator: Callable[[dict[str, Any]], bool], *, vectorized: Literal[False] = False
) -> FilteredGrid: ...
@overload
def filter_valid(
    grid: pd.DataFrame, validator: Callable[[pd.DataFrame], Any], *, vectorized: Literal[True]
) -> FilteredGrid: ...
def filter_valid(
    grid: pd.DataFrame,
    validator: Callable[[Any], Any],
    *,
    vectorized: bool = False,
) -> FilteredGrid:
    """Drop the combinations ``validator`` rejects and report how many were dropped.

    Parameters
    ----------
    grid:
        A frame from :func:`expand_grid` (any frame with one column per parameter).
    validator:
        By default called once per combination with a dict ``{param: value}`` and
        must return a bool (``lambda p: p["fast"] < p["slow"]``). Returning anything
        else (typically ``None`` from a forgotten ``return``) is an error rather than
        a silent "drop everything".
    vectorized:
        If true, ``validator`` is called once with the whole frame and returns a
        boolean mask of the same length (``lambda g: g.fast < g.slow``): much faster
        on large grids.
    """
    if not isinstance(grid, pd.DataFrame):
        raise OptimizeInputError("grid", type(grid).__name__, "a pandas DataFrame (from expand_grid)")
    if not callable(validator):
        raise OptimizeInputError("validator", validator, "a callable returning True for valid combinations")
    if vectorized:
        mask = np.asarray(validator(grid))
        if mask.shape != (len(grid),) or mask.dtype != bool:
            raise OptimizeInputError(
                "validator",
                f"result of dtype {mask.dtype} and shape {mask.shape}",
                f"a boolean mask of shape ({len(grid)},) when vectorized=True",
            )
    else:
        keep = []
        for row in grid.to_dict("records"):
            try:
                ok = validator(row)
            except Exception as exc:
                exc.add_note(f"while validating combination {row}")
                raise
            if not isinstance(ok, (bool, np.bool_)):
                raise OptimizeInputError(
                    "validator", f"{ok!r} for combination {row}", "True (keep) or False (drop)"
                )
            keep.append(bool(ok))
        mask = np.asarray(keep, dtype=bool)
    kept = grid.loc[mask]
    return FilteredGrid(grid=kept, n_dropped=int(len(grid) - len(kept)))


def combinations(grid: pd.DataFrame) -> list[dict[str, Any]]:
    """Every combination of ``grid`` as ``{param: value}``, in grid order."""
    # The columns are parameter names; pandas can only type record keys as Hashable.
    return cast("list[dict[str, Any]]", grid.to_dict("records"))


def iter_combinations(grid: pd.DataFrame, block: int = 10_000) -> Iterator[dict[str, Any]]:
    """Every combination of ``grid`` as ``{param: value}``, in grid order, made a block at a time.

    For code that looks at each combination once (validation, warm-up): a list of a
    million dicts is ~0.5 GB, a block of them a few MB.
    """
    for i in range(0, len(grid), block):
        yield from combinations(grid.iloc[i : i + block])


def combination(grid: pd.DataFrame, label: int) -> dict[str, Any]:
    """The combination numbered ``label`` (its row label in ``grid``) as ``{param: value}``."""
    return cast("dict[str, Any]", grid.loc[label].to_dict())


# --------------------------------------------------------------------------- chunks


def chunks(grid: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Yield consecutive slices of ``grid`` with at most ``size`` rows each.

    Lets a sweep over a large grid hold one chunk of results at a time. Slices
    are views in grid order; the last one may be shorter.
    """
    if not isinstance(grid, pd.DataFrame):
        raise OptimizeInputError("grid", type(grid).__name__, "a pandas DataFrame (from expand_grid)")
    if not _is_int(size) or size < 1:
        raise OptimizeInputError("size", size, "an int >= 1")
    return (grid.iloc[i : i + size] for i in range(0, len(grid), size))
