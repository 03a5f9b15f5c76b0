"""Display tables shared by the notebook reports."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel


def params_table(params: BaseModel) -> pd.DataFrame:
    """Resolved params flattened to ``key: value`` rows (lists joined with commas)."""
    flat = pd.json_normalize(params.model_dump(mode="json"), sep=".").T
    flat.columns = ["value"]
    flat["value"] = flat["value"].map(lambda v: ", ".join(map(str, v)) if isinstance(v, list) else v)
    return flat


def metrics_side_by_side(metrics: dict, benchmark: dict, *, label: str, benchmark_label: str) -> pd.DataFrame:
    """One row per metric: the strategy's value beside the benchmark's (None where it has none)."""
    rows = {k: [v, benchmark.get(k)] for k, v in metrics.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[label, benchmark_label])
