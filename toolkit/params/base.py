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

from toolkit.errors import ParamsError

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
            return cls(**raw)
        except ValidationError as exc:
            raise params_error(exc, cls) from None
        except TypeError as exc:  # e.g. a list where a mapping was expected at the top level
            raise ParamsError("(params)", raw, str(exc)) from None

    @abstractmethod
    def resolve(self, base_dir: Path) -> Self:
        """Check what needs the strategy or the data and return the params as the run uses them.

        ``base_dir`` resolves relative paths (params files, data files). Raises
        ParamsError naming the field, as parsing does.
        """


def params_error(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> ParamsError:
    """Turn pydantic's first error in validating ``model`` into one ParamsError a user can act on."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "(params)"
    value = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = "no such key; known keys here: " + ", ".join(known_keys(model, err["loc"]))
    elif kind == "missing":
        allowed = "a value (this field is required)"
        value = None
    else:
        allowed = err["msg"].removeprefix("Value error, ")
    return ParamsError(field, redact(value), allowed)


def known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed beside the unknown one at ``loc`` (followed through nested models only:
    under a mapping or a list of models, such as ``data.proxies.<name>``, none are listed)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None:
            break
        f = current.model_fields.get(str(part))
        ann = f.annotation if f else None
        current = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return sorted(current.model_fields) if current else []


def redact(value: Any) -> Any:
    """Hide the password of a ``scheme://user:password@host`` URL: errors end up in logs."""
    if isinstance(value, str):
        return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1***@", value)
    return value
