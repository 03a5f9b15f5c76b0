"""The strict base every params model shares, and pydantic's errors turned into ParamsError.

Strict means an unknown key is an error, never ignored: a typo (``fees_bsp``) must stop
the run instead of silently leaving the default in force. A notebook's model also
resolves itself (:meth:`NotebookParams.resolve`): the checks that need the strategy or
the data, which a field validator cannot do.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from toolkit.errors import ParamsError, field_bounds, field_path, model_keys, plain_allowed

__all__ = ["NotebookParams", "StrictModel", "params_error"]


class StrictModel(BaseModel):
    """A params model that refuses unknown keys (the one strict base of every params part)."""

    model_config = ConfigDict(extra="forbid")


class NotebookParams(StrictModel):
    """The params of one notebook: :meth:`parse` checks each field, :meth:`resolve` the rest."""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Self:
        """Build the model from a params mapping; the first problem as one ParamsError."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise params_error(exc, cls) from None
        except TypeError:  # keys that are not text (``1: 2`` in YAML) cannot be parameter names
            bad = next((k for k in raw if not isinstance(k, str)), None) if isinstance(raw, dict) else raw
            raise ParamsError("(params)", bad, "keys that are names, e.g. fees_bps") from None

    @abstractmethod
    def resolve(self, base_dir: Path) -> Self:
        """Check what needs the strategy or the data and return the params as the run uses them.

        ``base_dir`` resolves relative paths (params files, data files). Raises
        ParamsError naming the field, as parsing does.
        """


def params_error(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> ParamsError:
    """Turn pydantic's first error in validating ``model`` into one ParamsError a user can act on."""
    err = exc.errors()[0]
    field = field_path(err, prefix)
    value = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        known = known_keys(model, err["loc"])
        allowed = "known keys here: " + ", ".join(known) if known else "no keys are known here"
        return ParamsError(field, redact(value), allowed, problem="unknown key")
    if kind == "missing":
        value = None
    return ParamsError(field, redact(value), plain_allowed(err, field_bounds(model, err["loc"])))


def known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed beside the unknown one at ``loc`` (through nested models, mappings
    of models such as ``data.proxies.<name>`` and lists of models)."""
    return model_keys(model, loc[:-1])


def redact(value: Any) -> Any:
    """Hide the password of a ``scheme://user:password@host`` URL: errors end up in logs."""
    if isinstance(value, str):
        return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1***@", value)
    return value
