"""DESIGN.md's layout and import rules, checked on the source (nothing is imported to check).

* Which package may import which (the arrows of DESIGN.md): ``model`` is a leaf over
  ``errors``; ``time`` builds on ``model``; brokers and the ledger speak ``model`` only;
  research (``backtest``, ``optimize``) never imports ``engine``, ``brokers`` or ``ledger``;
  ``report``, ``runner`` and ``cli`` sit on top and nothing below imports them.
* No module imports a private name (``_x``) of another package.
* No module-level import cycle (what bottom-of-module imports used to paper over), and
  no import below a module's first def or class.
* ``import toolkit.params`` stays cheap: its shared parts import only errors and each
  other, and a notebook's model loads only when that notebook's params are validated.

Imports inside ``if TYPE_CHECKING:`` are annotations, not dependencies, and are not counted.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = ROOT / "toolkit"

#: package -> the toolkit packages it may import besides itself (DESIGN.md, "Which way imports go").
#: ``params`` holds the notebooks' models: its shared parts sit under ``data`` (DataParams),
#: its notebook models above ``optimize`` (they check grids and objectives); the runs that
#: consume params (``backtest``, ``optimize``, ``engine``) import them.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "model": {"errors"},
    "connections": {"errors"},
    "time": {"errors", "model"},
    "data": {"errors", "model", "time", "params", "connections"},
    "strategies": {"errors", "model", "time", "data"},
    "backtest": {"errors", "model", "time", "data", "strategies", "params"},
    "optimize": {"errors", "model", "time", "data", "strategies", "backtest", "params"},
    "params": {"errors", "model", "time", "data", "strategies", "optimize"},
    "brokers": {"errors", "model", "connections"},
    "ledger": {"errors", "model"},
    "engine": {"errors", "model", "time", "data", "strategies", "brokers", "ledger", "params",
               "connections"},
}
#: On top: may import everything below them.
TOP = {"report", "widgets", "ops", "runner", "cli", "warm_kernel", "kernel_handoff", "__init__"}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def toolkit_files(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / "toolkit").rglob("*.py"))}


MODULES = toolkit_files()


def _type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path, *, top_level_only: bool = False) -> list[ast.Import | ast.ImportFrom]:
    """Import statements of a file, except those under ``if TYPE_CHECKING:``.

    ``top_level_only``: only those that run while the module itself is imported (not in functions).
    """
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.append(node)
            elif isinstance(node, ast.If):
                if not _type_checking(node):
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif not top_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                                                   | ast.With | ast.For | ast.While):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def imported_modules(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    base = node.module or ""
    return {base} | {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}


def package_of(module: str) -> str:
    """``toolkit.engine.session`` -> ``engine``; ``toolkit.cli`` -> ``cli``; ``toolkit`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


# ----------------------------------------------------------------------------- the arrows


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_design_allows(package: str) -> None:
    bad = []
    for name, path in MODULES.items():
        if package_of(name) != package:
            continue
        for node in imports(path):
            for target in imported_modules(node):
                other = package_of(target)
                if target.startswith("toolkit") and other != package and other not in ALLOWED[package]:
                    bad.append(f"{name}:{node.lineno} imports {target}")
    assert bad == []


def test_every_package_has_a_rule() -> None:
    packages = {package_of(n) for n in MODULES}
    assert packages <= set(ALLOWED) | TOP, packages - set(ALLOWED) - TOP


# ----------------------------------------------------------------------------- private names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(root: Path) -> list[str]:
    """Imports of a private module or name of another package, under ``root/toolkit``."""
    files = toolkit_files(root)
    packages = {n for n, p in files.items() if p.name == "__init__.py"}
    out = []
    for name, path in files.items():
        here = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in imports(path):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules, names = [node.module], [(node.module, a.name) for a in node.names]
            elif isinstance(node, ast.Import):
                modules, names = [a.name for a in node.names], []
            else:
                continue
            for module in modules:
                parts = module.split(".")
                for i, part in enumerate(parts):
                    owner = ".".join(parts[:i])
                    if _private(part) and owner.startswith("toolkit") and owner != here:
                        out.append(f"{name}:{node.lineno} imports private module {module}")
            for module, item in names:
                owner = module if module in packages else module.rsplit(".", 1)[0]
                if module.startswith("toolkit") and _private(item) and owner != here:
                    out.append(f"{name}:{node.lineno} imports {item} from {module}")
    return out


def test_no_module_imports_a_private_name_of_another_package() -> None:
    assert private_imports(ROOT) == []


def test_the_private_rule_sees_a_private_import(tmp_path: Path) -> None:
    """The checker itself: a cross-package private import is reported, a same-package one is not."""
    pkg = tmp_path / "toolkit"
    (pkg / "a").mkdir(parents=True)
    (pkg / "b").mkdir()
    for f in ("__init__.py", "a/__init__.py", "b/__init__.py", "a/x.py"):
        (pkg / f).write_text("")
    (pkg / "a" / "y.py").write_text("from toolkit.a.x import _helper\n")
    (pkg / "b" / "z.py").write_text("from toolkit.a.x import _helper\nimport toolkit.a._hidden\n")
    assert private_imports(tmp_path) == ["toolkit.b.z:1 imports _helper from toolkit.a.x",
                                         "toolkit.b.z:2 imports private module toolkit.a._hidden"]


# ----------------------------------------------------------------------------- cycles and late imports


def _graph() -> dict[str, set[str]]:
    """Module -> toolkit modules its top-level imports run (packages on the way included, its own
    ancestors excluded: they are already being imported)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges: set[str] = set()
        for node in imports(path, top_level_only=True):
            for target in imported_modules(node):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    mod = ".".join(parts[:i])
                    if mod in MODULES and mod != name and not name.startswith(mod + "."):
                        edges.add(mod)
        graph[name] = edges
    return graph


def test_no_module_level_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_no_import_below_a_definition() -> None:
    late = []
    for name, path in MODULES.items():
        defined = False
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined = True
            elif defined and isinstance(node, ast.Import | ast.ImportFrom):
                late.append(f"{name}:{node.lineno}")
    assert not late, "imports below a def or class: " + ", ".join(late)


# ----------------------------------------------------------------------------- cheap params

SHARED_PARTS = ["base", "costs", "data", "files", "guards", "notebooks", "overrides"]
NOTEBOOK_MODELS = {"toolkit.params.backtest", "toolkit.params.walk_forward", "toolkit.params.daily_dry_run"}


@pytest.mark.parametrize("part", SHARED_PARTS)
def test_shared_params_parts_import_only_errors_and_each_other(part: str) -> None:
    path = MODULES[f"toolkit.params.{part}"]
    imported = {m for node in imports(path, top_level_only=True) for m in imported_modules(node)
                if m.startswith("toolkit")}
    allowed = {"toolkit.errors"} | {f"toolkit.params.{p}" for p in SHARED_PARTS}
    assert imported <= allowed, imported - allowed


def _modules_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_importing_params_loads_no_notebook_model_and_no_pandas() -> None:
    loaded = _modules_after("import toolkit.params")
    assert not loaded & NOTEBOOK_MODELS
    assert "pandas" not in loaded and "toolkit.data" not in loaded


def test_a_backtest_validation_loads_only_the_backtest_model() -> None:
    loaded = _modules_after("import toolkit.params as P; P.validate('backtest', {})")
    assert loaded & NOTEBOOK_MODELS == {"toolkit.params.backtest"}
    heavy = {"toolkit.optimize", "toolkit.engine", "toolkit.backtest", "exchange_calendars", "vectorbt", "plotly"}
    assert not loaded & heavy
