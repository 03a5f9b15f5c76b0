"""Issue 9 point 7: an interrupted ``toolkit run`` is archived as such, never left ``running``.

Before: Ctrl-C during a papermill run printed a 46-line traceback from inside zmq and
left the manifest ``running``; SIGTERM ended the process silently (status -15), also
``running``; after kill -9 ``toolkit runs`` listed the run as running for ever.
Each test drives a real ``toolkit run`` process and signals it while papermill runs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.runner import list_runs, manifest_status

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("toolkit")
TOOLKIT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "toolkit.cli"]


def _start(outputs: Path) -> tuple[subprocess.Popen, Path]:
    """``toolkit run backtest`` in its own process; returns it once its run folder and manifest exist."""
    proc = subprocess.Popen(
        [*TOOLKIT, "run", "backtest", "--params", "params/backtest/sma_crossover.yaml", "--outputs", str(outputs)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A process started from a non-interactive shell may inherit SIGINT ignored; a terminal's is not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(outputs.glob("backtest/*/manifest.json"))
        if found:
            manifest = json.loads(found[0].read_text())
            assert manifest["status"] == "running", "the run ended before it could be signalled"
            return proc, found[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no run folder appeared within 120 s")


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_archives_the_run_as_interrupted_in_one_line(tmp_path: Path, sig: int, status: int) -> None:
    proc, manifest_path = _start(tmp_path)
    time.sleep(0.5)  # papermill is starting or running the kernel's cells
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    name = signal.Signals(sig).name
    assert err.strip().splitlines()[-1].startswith(f"interrupted by {name}; the run is archived as interrupted")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["status"] == "interrupted" and manifest["error"] == f"interrupted by {name}"
    assert manifest["ended_utc"] and manifest["pid"] == proc.pid
    assert list_runs(tmp_path)["status"].tolist() == ["interrupted"]


def test_a_killed_run_is_listed_as_died(tmp_path: Path) -> None:
    proc, manifest_path = _start(tmp_path)
    proc.kill()  # SIGKILL: nothing can be written
    proc.communicate(timeout=60)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["status"] == "running"
    assert manifest_status(manifest) == "died"
    assert list_runs(tmp_path)["status"].tolist() == ["died"]


def test_a_live_run_stays_running_and_an_old_manifest_is_left_alone() -> None:
    import os
    import socket

    here = socket.gethostname()
    assert manifest_status({"status": "running", "pid": os.getpid(), "host": here}) == "running"
    assert manifest_status({"status": "running", "pid": 2**22 + 12345, "host": "another-machine"}) == "running"
    assert manifest_status({"status": "running"}) == "running"  # written before pids were recorded
    assert manifest_status({"status": "completed", "pid": 2**22 + 12345, "host": here}) == "completed"
