"""DESIGN.md's import arrows for the trading core, checked on the source (no import side effects).

model imports nothing of the toolkit but errors; time builds on model; brokers speak
model only (never the engine, the ledger or the calendar); nothing here imports a
private name of another package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOOLKIT = Path(__file__).resolve().parents[2] / "toolkit"

#: package -> the toolkit packages (or modules) it may import, besides itself.
ALLOWED = {
    "model": {"errors"},
    "time": {"errors", "model"},
    "brokers": {"errors", "model"},
    "ledger": {"errors", "model"},
}


def toolkit_imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, imported names)`` of every ``toolkit.*`` import in ``path`` (lazy ones included)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolkit"):
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("toolkit")]
    return out


def modules(package: str) -> list[Path]:
    return sorted(p for p in (TOOLKIT / package).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_design_allows(package: str) -> None:
    bad = []
    for path in modules(package):
        for module, _ in toolkit_imports(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else ""
            if target != package and target not in ALLOWED[package]:
                bad.append(f"{path.relative_to(TOOLKIT)} imports {module}")
    assert bad == []


@pytest.mark.parametrize("package", ["model", "time", "brokers", "ledger", "engine", "report"])
def test_no_private_name_of_another_package(package: str) -> None:
    bad = []
    for path in modules(package):
        for module, names in toolkit_imports(path):
            parts = module.split(".")
            other = len(parts) > 1 and parts[1] != package
            private = [n for n in names if n.startswith("_")] + [p for p in parts if p.startswith("_")]
            if other and private:
                bad.append(f"{path.relative_to(TOOLKIT)} imports {private} from {module}")
    assert bad == []


def test_params_literals_match_the_model_enums() -> None:
    from typing import get_args

    from toolkit.model import EXECUTION_TIMES, ExecutionTimeName, TradingMode, TradingModeName

    assert get_args(ExecutionTimeName) == EXECUTION_TIMES
    assert get_args(TradingModeName) == tuple(m.value for m in TradingMode)
