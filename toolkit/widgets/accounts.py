"""The accounts the panel offers: params files that trade one, joined with the ledger's accounts.

An account is traded by a params file of a notebook that runs sessions
(``params/daily_dry_run/*.yaml``, ``params/live/*.yaml``); its file says which notebook,
strategy, mode and execution time. The ledger may know more accounts (a replay's
``dry-run-replay``, a file since deleted): they are shown view-only, since without a file
there is nothing to run and nothing an override would apply to.

Files are read with the notebook's params model (:meth:`NotebookParams.parse`), which
fills the defaults and checks every field, but not resolved: resolving a live file loads
data from the broker and needs its credentials, which the panel neither has nor wants.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ParamsError, ToolkitError

__all__ = ["SESSION_NOTEBOOKS", "AccountInfo", "discover_accounts", "literal_choices"]

#: The notebooks whose params files trade an account (folder under params/ = notebook name).
SESSION_NOTEBOOKS = ("daily_dry_run", "live")


@dataclass(frozen=True)
class AccountInfo:
    """One account the panel can show; ``notebook`` None = known to the ledger only (view-only)."""

    name: str
    notebook: str | None = None
    params_file: Path | None = None
    #: The params file as written (YAML mapping), what overrides are applied over.
    raw: Mapping[str, Any] = field(default_factory=dict)
    strategy: str | None = None
    mode: str | None = None
    execution_time: str | None = None
    #: Why a params file naming this account could not be read (then view-only too).
    problem: str | None = None

    @property
    def editable(self) -> bool:
        """True when the account has a readable params file: settings, parameters and "run now"."""
        return self.notebook is not None and self.problem is None

    @property
    def label(self) -> str:
        """What the account chooser shows."""
        if self.notebook is None:
            return f"{self.name} (ledger only, view-only)"
        if self.problem:
            return f"{self.name} ({self.notebook}: unreadable params, view-only)"
        return f"{self.name} ({self.notebook}, {self.strategy})"


def literal_choices(model: type[Any], name: str) -> tuple[str, ...]:
    """The values a ``Literal`` field ``name`` of a pydantic ``model`` allows (() otherwise)."""
    info = model.model_fields.get(name)
    if info is None or typing.get_origin(info.annotation) is not typing.Literal:
        return ()
    return tuple(str(v) for v in typing.get_args(info.annotation))


def _read(notebook: str, path: Path) -> AccountInfo:
    from toolkit.params.files import read_yaml
    from toolkit.params.notebooks import model_for

    try:
        raw = read_yaml(path)
    except ToolkitError as exc:
        return AccountInfo(name=path.stem, notebook=notebook, params_file=path, problem=str(exc))
    try:
        parsed = model_for(notebook).parse(raw)
    except ParamsError as exc:
        stated = raw.get("account")
        name = stated if isinstance(stated, str) else path.stem
        return AccountInfo(name=name, notebook=notebook, params_file=path, raw=raw, problem=str(exc))
    values = parsed.model_dump()
    return AccountInfo(
        name=str(values["account"]), notebook=notebook, params_file=path, raw=raw,
        strategy=values.get("strategy"), mode=values.get("mode"), execution_time=values.get("execution_time"),
    )


def discover_accounts(params_dir: Path, ledger_accounts: Mapping[str, str | None]) -> list[AccountInfo]:
    """Accounts of the params files under ``params_dir`` then those only the ledger knows.

    ``ledger_accounts``: account -> the strategy of its last run. Two files naming one
    account: the first (by notebook, then file name) is used and the other is not offered.
    """
    found: dict[str, AccountInfo] = {}
    for notebook in SESSION_NOTEBOOKS:
        folder = params_dir / notebook
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            info = _read(notebook, path)
            found.setdefault(info.name, info)
    for name, strategy in ledger_accounts.items():
        if name not in found:
            found[name] = AccountInfo(name=name, strategy=strategy)
    return list(found.values())
