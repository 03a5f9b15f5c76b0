"""The default backend: the process environment, then a ``.env`` file.

Precedence: a variable set in the environment wins over the same name in the ``.env``
file (python-dotenv's own default, ``override=False``), so a one-off
``APCA_API_KEY_ID=... toolkit run ...`` beats the file. The file is
``$TOOLKIT_ENV_FILE`` when set (it must exist), else the nearest ``.env`` found from the
current directory upwards (``./.env`` from the project root; ``notebooks/`` kernels
find the same file one level up). The file is only read, never loaded into
``os.environ``: kernels and subprocesses do not inherit its values - with one exception,
:data:`PROCESS_SETTINGS` (the ledger URL): the ``toolkit`` command and the runner copy it
into their own environment at start (:func:`export_process_settings`), because the
papermill kernels they start open the ledger from ``$TOOLKIT_DB_URL`` and cron or systemd
start them with a bare environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path

from toolkit.connections.secrets import AuditSink, SecretStore
from toolkit.errors import ParamsError

__all__ = ["ENV_FILE", "PROCESS_SETTINGS", "EnvironmentStore", "dotenv_path", "environment_store",
           "export_process_settings"]

#: Names a ``.env`` file explicitly (else ``./.env``, searched upwards).
ENV_FILE = "TOOLKIT_ENV_FILE"
#: Settings every process of a run needs, kernels included: the ledger URL (a ledger that
#: silently falls back to outputs/ledger.sqlite under cron is the team's orders lost).
PROCESS_SETTINGS = ("TOOLKIT_DB_URL",)


class EnvironmentStore(SecretStore):
    """The environment first, then the ``.env`` file's values (audited as ``env`` or ``dotenv``)."""

    backend = "env"

    def __init__(self, environ: Mapping[str, str], file_values: Mapping[str, str], path: Path | None,
                 audit: AuditSink | None = None) -> None:
        super().__init__(environ, audit)
        self._file_values = file_values
        self.path = path

    def _found(self, name: str) -> tuple[str | None, str]:
        value = self._values.get(name)
        if value is not None:
            return value, "env"
        value = self._file_values.get(name)
        return value, "dotenv" if value is not None else "env"

    def _lookup(self, name: str) -> str | None:
        return self._found(name)[0]

    def _names(self) -> Iterable[str]:
        return dict.fromkeys([*self._values, *self._file_values])

    @property
    def where(self) -> str:
        return "the environment" + (f" or {self.path}" if self.path is not None else " (or a .env file)")


def dotenv_path(environ: Mapping[str, str], *, search: bool) -> Path | None:
    """The ``.env`` file to read: ``$TOOLKIT_ENV_FILE`` (checked), else the nearest ``./.env`` upwards
    when ``search`` (the process environment), else none."""
    named = (environ.get(ENV_FILE) or "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ParamsError(ENV_FILE, named, "the path of an existing .env file (or unset: ./.env)")
        return path
    if not search:
        return None
    from dotenv import find_dotenv

    found = find_dotenv(".env", usecwd=True)
    return Path(found) if found else None


def environment_store(environ: Mapping[str, str], *, search_dotenv: bool,
                      audit: AuditSink | None = None) -> EnvironmentStore:
    """The environment over its ``.env`` file (see the module doc)."""
    path = dotenv_path(environ, search=search_dotenv)
    values: dict[str, str] = {}
    if path is not None:
        from dotenv import dotenv_values

        values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    return EnvironmentStore(environ, values, path, audit)


def export_process_settings(environ: MutableMapping[str, str] | None = None,
                            names: Iterable[str] = PROCESS_SETTINGS) -> list[str]:
    """Copy each of ``names`` the environment lacks from the ``.env`` file into ``environ`` (default:
    ``os.environ``, which kernels and subprocesses inherit); returns the names copied (never a value).

    A name already set, even to an empty string, is left alone: the environment wins, as for
    every other lookup. Without a ``.env`` file this only checks ``$TOOLKIT_ENV_FILE``.
    """
    env = os.environ if environ is None else environ
    wanted = [n for n in names if n not in env]
    if not wanted:
        return []
    store = environment_store(env, search_dotenv=env is os.environ)
    copied = []
    for name in wanted:
        value = store.get(name)
        if value:
            env[name] = value
            copied.append(name)
    return copied
