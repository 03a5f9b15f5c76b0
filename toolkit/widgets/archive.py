"""Which archived run (``outputs/<notebook>/<run_id>/``) recorded which ledger run.

A session notebook's manifest holds the ledger's ``run_key`` of the session it ran
(``session.run_key``, folded in from ``run_info.json`` by the runner), which is how the
panel's run history links a ledger run to its archived report. Manifests of finished runs
never change, so each is read once and kept by (path, modification time); a refresh
costs one directory listing per notebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.widgets.accounts import SESSION_NOTEBOOKS

__all__ = ["ArchivedRun", "RunArchive"]


@dataclass(frozen=True)
class ArchivedRun:
    """One archived session run: its folder, status, ledger run key and report (when written)."""

    run_id: str
    run_dir: Path
    notebook: str
    status: str | None
    run_key: str | None
    account: str | None
    started_utc: str | None
    report: Path | None


def _read(manifest: Path) -> dict[str, Any]:
    try:
        data = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class RunArchive:
    """The archived session runs under ``outputs_dir``, re-read only where a manifest changed."""

    def __init__(self, outputs_dir: Path) -> None:
        self.outputs_dir = outputs_dir
        self._cache: dict[Path, tuple[float, ArchivedRun]] = {}

    def runs(self) -> list[ArchivedRun]:
        """Every archived run of the session notebooks, oldest first."""
        from toolkit.runner import manifest_status

        out: list[ArchivedRun] = []
        seen: set[Path] = set()
        for notebook in SESSION_NOTEBOOKS:
            folder = self.outputs_dir / notebook
            if not folder.is_dir():
                continue
            for manifest in folder.glob("*/manifest.json"):
                seen.add(manifest)
                try:
                    mtime = manifest.stat().st_mtime
                except OSError:
                    continue
                cached = self._cache.get(manifest)
                if cached is None or cached[0] != mtime or cached[1].status in ("running", "died"):
                    m = _read(manifest)
                    session: dict[str, Any] = m["session"] if isinstance(m.get("session"), dict) else {}
                    params: dict[str, Any] = m["params"] if isinstance(m.get("params"), dict) else {}
                    report = manifest.parent / "report.html"
                    cached = (mtime, ArchivedRun(
                        run_id=str(m.get("run_id", manifest.parent.name)), run_dir=manifest.parent,
                        notebook=notebook, status=manifest_status(m), run_key=session.get("run_key"),
                        account=params.get("account"), started_utc=m.get("started_utc"),
                        report=report if report.is_file() else None,
                    ))
                    self._cache[manifest] = cached
                out.append(cached[1])
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        return sorted(out, key=lambda r: (r.started_utc or "", r.run_id))

    def reports_by_run_key(self) -> dict[str, Path]:
        """The newest archived report of each ledger run key."""
        return {r.run_key: r.report for r in self.runs() if r.run_key and r.report is not None}
