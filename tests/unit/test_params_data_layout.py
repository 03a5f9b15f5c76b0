"""Import rules of params and data (DESIGN.md): checked on the source, not left to review.

* no module-level import cycle anywhere in ``toolkit`` (a cycle is what bottom-of-module
  imports used to paper over), and no import below a module's first def or class;
* ``data``, ``params`` and ``engine`` never import ``backtest`` (dataset assembly is data's;
  the replay-vs-backtest parity report sits above both, in ``report``);
* the shared params parts import nothing of the toolkit but errors and each other, so
  ``import toolkit.params`` stays cheap; each notebook's model loads only when its
  params are validated (a backtest does not pay for the walk-forward or the calendar).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "toolkit"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    base = node.module or ""
    return {base} | {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}


def _top_level_imports(path: Path) -> set[str]:
    """Modules a module imports while it is itself being imported (not in functions, not for typing)."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update(_imported(node))
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit(ast.parse(path.read_text()).body)
    return found


def _all_imports(path: Path) -> set[str]:
    """Every module a file names in an import statement, wherever it sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(_imported(node))
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> toolkit modules run by its top-level imports (packages on the way included,
    its own ancestors excluded: they are already being imported)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges: set[str] = set()
        for target in _top_level_imports(path):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                mod = ".".join(parts[:i])
                if mod in MODULES and mod != name and not name.startswith(mod + "."):
                    edges.add(mod)
        graph[name] = edges
    return graph


def test_no_module_level_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_no_import_below_a_definition():
    late = []
    for name, path in MODULES.items():
        defined = False
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined = True
            elif defined and isinstance(node, (ast.Import, ast.ImportFrom)):
                late.append(f"{name}:{node.lineno}")
    assert not late, "imports below a def or class: " + ", ".join(late)


@pytest.mark.parametrize("package", ["toolkit.data", "toolkit.params", "toolkit.engine"])
def test_data_params_and_engine_never_import_backtest(package):
    offenders = {
        name for name, path in MODULES.items()
        if (name == package or name.startswith(package + "."))
        and any(m == "toolkit.backtest" or m.startswith("toolkit.backtest.") for m in _all_imports(path))
    }
    assert not offenders


SHARED_PARTS = ["base", "costs", "data", "files", "guards", "notebooks", "overrides"]


@pytest.mark.parametrize("part", SHARED_PARTS)
def test_shared_params_parts_import_only_errors_and_each_other(part):
    imported = {m for m in _top_level_imports(MODULES[f"toolkit.params.{part}"]) if m.startswith("toolkit")}
    allowed = {"toolkit.errors"} | {f"toolkit.params.{p}" for p in SHARED_PARTS}
    assert imported <= allowed, imported - allowed


def _modules_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


NOTEBOOK_MODELS = {"toolkit.params.backtest", "toolkit.params.walk_forward", "toolkit.params.daily_dry_run"}


def test_importing_params_loads_no_notebook_model_and_no_pandas():
    loaded = _modules_after("import toolkit.params")
    assert not loaded & NOTEBOOK_MODELS
    assert "pandas" not in loaded and "toolkit.data" not in loaded


def test_a_backtest_validation_loads_only_the_backtest_model():
    loaded = _modules_after("import toolkit.params as P; P.validate('backtest', {})")
    assert loaded & NOTEBOOK_MODELS == {"toolkit.params.backtest"}
    heavy = {"toolkit.optimize", "toolkit.engine", "toolkit.backtest", "exchange_calendars", "vectorbt", "plotly"}
    assert not loaded & heavy
