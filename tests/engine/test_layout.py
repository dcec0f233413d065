"""The engine's shape (issue 12): no import circles, no Textual, no module over 400 lines, no
private name imported from another module, and every command named once in the registry.

Imports are read with `ast` from the source (also those inside functions, which a circle
through a lazy import would still be), so nothing here imports TensorFlow.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
PACKAGE = "weightwatch.engine"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def engine_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ENGINE.rglob("*.py"))}


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) for every import statement in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [alias.name for alias in node.names]))
    return found


def engine_graph() -> dict[str, set[str]]:
    modules = engine_modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, names in imports_of(path):
            # `from . import x` names a submodule; `from .x import y` the module x
            candidates = [f"{target}.{n}" for n in names] + [target]
            graph[name] |= {c for c in candidates if c in modules and c != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_among_engine_modules():
    graph = engine_graph()
    assert "weightwatch.engine.runtime.handlers" in graph["weightwatch.engine.trainer"]
    assert cycles(graph) == []


def test_the_engine_never_imports_textual():
    offenders = [
        f"{name}: {target}"
        for name, path in engine_modules().items()
        for target, _ in imports_of(path)
        if target == "textual" or target.startswith("textual.")
    ]
    assert offenders == []


def test_no_engine_module_over_400_lines():
    long = {
        name: n
        for name, path in engine_modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_private_name_is_imported_from_another_engine_module():
    offenders = [
        f"{name}: from {target} import {n}"
        for name, path in engine_modules().items()
        for target, names in imports_of(path)
        if target.startswith(PACKAGE)
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert offenders == []


# ----- the command registry -----------------------------------------------------------------


def test_every_command_has_its_handler_and_session_method():
    from weightwatch.engine.commands import COMMANDS
    from weightwatch.engine.session import Session

    handlers = ast.parse((ENGINE / "runtime" / "handlers.py").read_text(encoding="utf-8"))
    defined = {
        node.name: [a.arg for a in node.args.args[1:]]
        for node in handlers.body
        if isinstance(node, ast.FunctionDef)
    }
    for spec in COMMANDS:
        names = [a.name for a in spec.args]
        assert defined.get(spec.handler) == names, spec.name
        method = getattr(Session, spec.method)
        params = list(inspect.signature(method).parameters)[1:]
        assert params == names, spec.name


def test_script_actions_and_dashboard_keys_come_from_the_registry():
    from weightwatch.engine.commands import COMMANDS
    from weightwatch.engine.script import ACTION_ARGS

    for spec in COMMANDS:
        if spec.script:
            keys = {a.key: (a.kind, a.required) for a in spec.args if a.in_script}
            assert ACTION_ARGS[spec.name] == keys
        else:
            assert spec.name not in ACTION_ARGS
    pytest.importorskip("textual")
    from weightwatch.tui.bindings import BINDINGS, palette_entries

    offered = [spec for spec in COMMANDS if spec.ui is not None]
    by_id = {b.id: b for b in BINDINGS}
    for spec in offered:
        ui = spec.ui
        assert (by_id[spec.name].key, by_id[spec.name].description) == (ui.key, ui.label)
        assert (f"app.{ui.action}", ui.title, ui.tooltip) in palette_entries()


def test_a_command_missing_from_the_registry_is_refused_at_once(tmp_path):
    from weightwatch.engine.session import Session

    with pytest.raises(KeyError, match="set_dropout"):
        Session._submit(object.__new__(Session), "set_dropout", rate=0.5)
