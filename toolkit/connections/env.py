"""Reading named variables from an environment mapping, with one message for what is missing."""

from __future__ import annotations

import os
from collections.abc import Mapping

from toolkit.errors import BrokerAuthError

__all__ = ["environment", "require"]


def environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """``environ`` or the process environment (tests pass their own mapping)."""
    return os.environ if environ is None else environ


def require(service: str, environ: Mapping[str, str], names: tuple[str, ...], how: str) -> list[str]:
    """The values of ``names``, or a :class:`BrokerAuthError` naming every missing one (never a value)."""
    missing = [n for n in names if not environ.get(n, "").strip()]
    if missing:
        raise BrokerAuthError(service, f"credentials missing: set {', '.join(missing)} in the environment ({how}); "
                                       "they are never read from params files or notebooks")
    return [environ[n].strip() for n in names]
