"""Links from the panel to archived reports, wherever the panel is shown.

Under ``toolkit dashboard`` voila serves files below its root at ``voila/files/<path>``
(only those its ``file_allowlist`` admits: the reports under ``outputs/``); the dashboard
names that root in ``$TOOLKIT_DASHBOARD_ROOT``. In JupyterLab the panel's notebook sits in
``notebooks/``, so a path relative to that folder opens the report in JupyterLab's viewer.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

__all__ = ["DASHBOARD_ROOT_ENV", "report_href"]

#: The folder voila serves files from under ``toolkit dashboard`` (set by the dashboard).
DASHBOARD_ROOT_ENV = "TOOLKIT_DASHBOARD_ROOT"


def report_href(path: str | Path, *, notebooks_dir: Path | None = None) -> str:
    """The href that opens ``path`` (a report under the project) from the panel's page.

    ``voila/files/<path relative to $TOOLKIT_DASHBOARD_ROOT>`` under the dashboard, else a
    path relative to ``notebooks_dir`` (default: the project's ``notebooks/``). A file
    outside the dashboard's root cannot be served; its ``file:`` URI is the honest answer.
    """
    target = Path(path).resolve()
    root = os.environ.get(DASHBOARD_ROOT_ENV)
    if root:
        try:
            relative = target.relative_to(Path(root).resolve())
        except ValueError:
            return target.as_uri()
        return "voila/files/" + quote(relative.as_posix())
    if notebooks_dir is None:
        from toolkit.params import repo_root

        notebooks_dir = repo_root() / "notebooks"
    return quote(Path(os.path.relpath(target, notebooks_dir.resolve())).as_posix())
