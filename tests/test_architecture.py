"""The house rules: the layering contract, no import cycles, small files, a root that holds only
the packages, no module-level caches, and registries whose every entry works."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "mmib"


def test_layering_contract_is_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    cmd = [str(lint)] if lint.exists() else [sys.executable, "-c",
                                              "from importlinter.cli import lint_imports_command as c; c()"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def _cycles() -> list[list[str]]:
    import grimp

    graph = grimp.build_graph("mmib")
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for m in sorted(edges):
        if m not in index:
            visit(m)
    return found


def test_no_import_cycles_lazy_imports_included():
    assert _cycles() == []


def test_no_file_over_400_lines_and_the_root_holds_only_packages():
    long = {str(f.relative_to(SRC)): n for f in SRC.rglob("*.py") if (n := len(f.read_text().splitlines())) > 400}
    assert long == {}
    root = {p.name for p in SRC.iterdir() if p.name != "__pycache__"}
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert root - packages == {"__init__.py", "__main__.py", "registry.py", "progress.py", "py.typed"}
    assert packages == {"cli", "config", "data", "encoders", "engine", "fusion", "metrics", "models",
                        "objectives", "report", "studies", "tracking", "hub", "extract", "inputs", "runtime", "serve"}


def test_no_module_level_mutable_cache():
    """A module-level empty dict / list / set is a cache filled at run time (the corpus cache
    that hid a second build was one); constants and registries are fine."""
    offenders = []
    for f in SRC.rglob("*.py"):
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                v = node.value
                empty = (isinstance(v, (ast.Dict, ast.List, ast.Set)) and not getattr(v, "keys", getattr(v, "elts", None))) \
                    or (isinstance(v, ast.Call) and getattr(v.func, "id", "") in ("dict", "list", "set")
                        and not v.args and not v.keywords)
                if empty:
                    offenders.append(f"{f.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_import_parts_registers_a_new_file_without_editing_anything(tmp_path, monkeypatch):
    """Dropping a file into a package with a registry is all it takes: import_parts finds it."""
    pkg = tmp_path / "plugpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from mmib.registry import import_parts\nimport_parts(__name__)\n")
    (pkg / "registry.py").write_text("from mmib.registry import Registry\nTHINGS = Registry('thing', key='x.thing')\n")
    (pkg / "one.py").write_text("from .registry import THINGS\nTHINGS.add('one', 1)\n")
    (pkg / "_private.py").write_text("raise RuntimeError('private helpers are not imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import plugpkg  # noqa: F401
    from plugpkg.registry import THINGS

    assert THINGS.names() == ["one"] and THINGS.get("one") == 1
    with pytest.raises(KeyError, match=r"x.thing: unknown thing 'two'; expected one of one"):
        THINGS.get("two")
