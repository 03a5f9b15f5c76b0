"""A warm kernel imports vectorbt without its quantstats adapter, and quantstats stays importable."""

from __future__ import annotations

import json
import subprocess
import sys

_CODE = """
import json, sys
from toolkit.warm_kernel import import_vectorbt
import_vectorbt()
skipped = "quantstats" not in sys.modules
import vectorbt.returns as r
blacklisted = "qs_adapter" in r.__blacklist__
import quantstats  # a notebook can still import it itself
print(json.dumps([skipped, blacklisted, quantstats.__name__]))
"""


def _run(env_extra: dict[str, str]) -> list:
    import os

    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", _CODE], check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_vectorbt_loads_without_quantstats_which_stays_importable():
    assert _run({}) == [True, True, "quantstats"]


def test_keep_quantstats_opt_out():
    assert _run({"TOOLKIT_KEEP_QUANTSTATS": "1"}) == [False, False, "quantstats"]
