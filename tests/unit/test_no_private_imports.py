"""Import rule (DESIGN.md): no module imports a private name (``_x``) of another package.

A leading underscore says "internal to this package": code in another package that
reaches for it (as ``optimize/evaluate.py`` once did with sma_crossover's
``_trailing_mean``) couples itself to internals that may change without notice.
Modules of the same package may share private helpers.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = ROOT / "toolkit"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of_module(module: str) -> str:
    """The package a dotted module belongs to (a package belongs to itself)."""
    if (ROOT / Path(*module.split("."))).is_dir():
        return module
    return module.rsplit(".", 1)[0]


def _package_of_file(path: Path) -> str:
    return _module_name(path.parent / "__init__.py")


def _violations() -> list[str]:
    out = []
    for path in sorted(TOOLKIT.rglob("*.py")):
        here = _package_of_file(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
                names = [(node.module, a.name) for a in node.names]
            elif isinstance(node, ast.Import):
                modules, names = [a.name for a in node.names], []
            else:
                continue
            for module in modules:
                parts = module.split(".")
                for i, part in enumerate(parts):
                    owner = ".".join(parts[:i])  # the package holding the private module
                    if _private(part) and owner.startswith("toolkit") and owner != here:
                        out.append(f"{_module_name(path)}:{node.lineno} imports private module {module}")
            for module, name in names:
                if module.startswith("toolkit") and _private(name) and _package_of_module(module) != here:
                    out.append(f"{_module_name(path)}:{node.lineno} imports {name} from {module}")
    return out


def test_no_module_imports_a_private_name_of_another_package():
    assert not _violations()


def test_the_rule_sees_a_private_import(tmp_path, monkeypatch):
    """The checker itself: a cross-package private import is reported, a same-package one is not."""
    pkg = tmp_path / "toolkit"
    (pkg / "a").mkdir(parents=True)
    (pkg / "b").mkdir()
    for f in ("__init__.py", "a/__init__.py", "b/__init__.py", "a/x.py"):
        (pkg / f).write_text("")
    (pkg / "a" / "y.py").write_text("from toolkit.a.x import _helper\n")
    (pkg / "b" / "z.py").write_text("from toolkit.a.x import _helper\nimport toolkit.a._hidden\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "TOOLKIT", pkg)
    found = _violations()
    assert found == ["toolkit.b.z:1 imports _helper from toolkit.a.x",
                     "toolkit.b.z:2 imports private module toolkit.a._hidden"]
