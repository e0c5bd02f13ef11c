"""Dependencies point one way: every import of the emulator and the three libraries, read
from the source (AST, nothing imported), against one table of rooms.

A module may import its own room and any room on a LOWER level; never a room above it, and
never another room on its own level (peers stay apart, so no two rooms can form a cycle).
Imports under `if TYPE_CHECKING:` count: they are coupling all the same.

    level  room           modules                                            may import
    6      entry points   emulator.{cli, server, pytest_plugin,              anything
                          account_reset, demo, walk}, the emulator package
    5      edge           emulator.wire.edge, emulator.wire.guard            levels 0-4
    5      console        emulator.console.* (the pages at /_smlocal/)       levels 0-4
    4      control        emulator.control.*                                 levels 0-3
    4      runtime        emulator.runtime.*                                 levels 0-3
    4      embedded       emulator.embedded.*                                levels 0-3
    3      hosting        emulator.hosting.*                                 levels 0-2
    3      jobs           emulator.jobs.*                                    levels 0-2
    3      protocols      the rest of emulator.wire: HTTP framing, AWS       levels 0-2
                          parsing/validation/responses, service models
    2      support        emulator.support.*                                 levels 0-1
    2      statuses       emulator.statuses.* (each kind's status machine)   levels 0-1
    1      errors         emulator.errors                                    level 0
    1      settings       emulator.settings                                  level 0
    0      libraries      model_server, model_monitor, capture_sink          see below

`wire` is two rooms: the edge (who may call, and where each request goes) sits on top; the
AWS protocols and the HTTP server sit below everything that speaks AWS on its own
(InvokeEndpoint's hot path in `runtime`, moto's error shapes in `embedded`). The console is
the edge's peer: it reads the control plane, the managers and the runtime's counters, and
the edge reaches it only through the handler `server.py` wires in.

The libraries never import the emulator: `capture_sink` imports nothing of ours,
`model_monitor` only `capture_sink`, `model_server` only `capture_sink`. `smlocal` (the
package root), `smlocal.cli_common` (the command-line helpers the libraries' CLIs share) and
`smlocal.local_rules` (the Host/Origin rules the edge and the model server apply) import
nothing of ours, and anyone may import them.

Besides the rooms, the modules' run-time imports (those outside `if TYPE_CHECKING:`) form
no cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("emulator", "model_server", "capture_sink", "model_monitor")
LEAVES = (
    "smlocal",
    "smlocal.cli_common",
    "smlocal.local_rules",
)  # import nothing of ours; anyone may import them
ENTRY_POINTS = ("cli", "server", "pytest_plugin", "account_reset", "demo", "walk")
EDGE = ("smlocal.emulator.wire.edge", "smlocal.emulator.wire.guard")
LEVELS = {
    "entry points": 6,
    "edge": 5,
    "console": 5,
    "control": 4,
    "runtime": 4,
    "embedded": 4,
    "hosting": 3,
    "jobs": 3,
    "protocols": 3,
    "support": 2,
    "statuses": 2,
    "errors": 1,
    "settings": 1,
}
# what each library may import of ours, besides itself and the leaves
LIBRARIES = {
    "capture_sink": frozenset[str](),
    "model_monitor": frozenset({"capture_sink"}),
    "model_server": frozenset({"capture_sink"}),
}


@dataclass(frozen=True)
class Import:
    """One import of one of our modules: where it is, what it names, whether it is typing-only."""

    source: str  # the importing module
    path: Path
    line: int
    target: str  # the imported module (a submodule when `from package import module`)
    typing_only: bool

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    """smlocal.<package>.<...> of a file under one of the packages."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["smlocal", *parts])


def our_modules() -> dict[str, Path]:
    """Every module of the four packages, by name."""
    found = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    found["smlocal"] = ROOT / "smlocal" / "__init__.py"
    found["smlocal.cli_common"] = ROOT / "smlocal" / "cli_common.py"
    found["smlocal.local_rules"] = ROOT / "smlocal" / "local_rules.py"
    return found


def imports_of(name: str, path: Path, source: str, known: set[str]) -> Iterator[Import]:
    """Our modules that a module's source imports, anywhere in it (functions included)."""
    typing_lines: set[int] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for inner in node.body:
                typing_lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, known):
                if target == "smlocal" or target.startswith("smlocal."):
                    typing_only = node.lineno in typing_lines
                    yield Import(name, path, node.lineno, target, typing_only)


def _targets(node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    """The modules an import statement names (`from package import module` names module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.module is None or node.level:
        return []  # relative imports: we use none, and they stay inside a package
    return [
        f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
        for alias in node.names
    ]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def room_of(module: str) -> str | None:
    """The room a module belongs to (None for the leaves)."""
    if module in LEAVES:
        return None
    parts = module.split(".")
    if parts[1] != "emulator":
        return parts[1]  # a library
    if module in EDGE or parts[2:] == ["wire"]:
        return "edge"
    name = parts[2] if len(parts) > 2 else ""
    if name in ("", *ENTRY_POINTS):
        return "entry points"
    room = "protocols" if name == "wire" else name
    return room if room in LEVELS else f"unknown room {name}"


def wrong_way(found: Import) -> str | None:
    """Why an import breaks the table, or None if it is allowed."""
    if found.source in LEAVES:
        return f"{found}: {found.source} imports nothing of ours"
    source, target = room_of(found.source), room_of(found.target)
    if target is None or source == target:
        return None
    assert source is not None
    if source in LIBRARIES:
        allowed = LIBRARIES[source]
        names = ", ".join(sorted(allowed)) or "nothing of ours"
        return None if target in allowed else f"{found}: {source} may import {names}"
    return _wrong_in_emulator(found, source, target)


def _wrong_in_emulator(found: Import, source: str, target: str) -> str | None:
    if source not in LEVELS:
        return f"{found}: {source} is in no room of the table (add it to test_layout.py)"
    if target in LIBRARIES:
        return None
    if target in LEVELS and LEVELS[target] < LEVELS[source]:
        return None
    level = f" (level {LEVELS[target]})" if target in LEVELS else ""
    return f"{found}: {source} (level {LEVELS[source]}) may not import {target}{level}"


def all_imports() -> list[Import]:
    """Every import of ours in the four packages and the leaves."""
    modules = our_modules()
    known = set(modules)
    return [
        found
        for name, path in sorted(modules.items())
        for found in imports_of(name, path, path.read_text(encoding="utf-8"), known)
    ]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


# -- the checks ------------------------------------------------------------------------------


def test_every_import_points_down_the_table() -> None:
    problems = [why for found in all_imports() if (why := wrong_way(found))]
    assert problems == [], "imports that point the wrong way:\n" + "\n".join(problems)


def test_every_emulator_module_is_in_a_room() -> None:
    unplaced = [name for name in our_modules() if (room_of(name) or "").startswith("unknown")]
    assert unplaced == []


def test_run_time_imports_form_no_cycle() -> None:
    edges: dict[str, set[str]] = {name: set() for name in our_modules()}
    for found in all_imports():
        if not found.typing_only and found.target != found.source:
            edges[found.source].add(found.target)
    assert cycles(edges) == []


# -- the checker itself ------------------------------------------------------------------------


def _checked(module: str, source: str) -> list[str]:
    path = ROOT / "emulator" / "jobs" / "example.py"
    known = set(our_modules())
    found = imports_of(module, path, source, known)
    return [why for item in found if (why := wrong_way(item))]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("smlocal.emulator.jobs.example", "from smlocal.emulator.control.context import Context"),
        ("smlocal.emulator.jobs.example", "from smlocal.emulator.hosting import fleet"),
        ("smlocal.emulator.hosting.example", "import smlocal.emulator.wire.edge"),
        ("smlocal.emulator.errors", "from smlocal.emulator.support import durable"),
        ("smlocal.emulator.runtime.example", "from smlocal.emulator.wire.edge import Edge"),
        ("smlocal.emulator.console.example", "from smlocal.emulator.wire.edge import Edge"),
        ("smlocal.emulator.wire.edge", "from smlocal.emulator.console.app import Console"),
        ("smlocal.capture_sink.example", "from smlocal.model_server import errors"),
        ("smlocal.model_monitor.example", "from smlocal.emulator.settings import X"),
        (
            "smlocal.emulator.jobs.example",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from smlocal.emulator.control.context import Context\n",
        ),
        (
            "smlocal.emulator.control.example",
            "def f():\n    from smlocal.emulator.wire import edge\n",
        ),
    ],
)
def test_an_import_that_points_up_is_named(module: str, source: str) -> None:
    problems = _checked(module, source)
    assert len(problems) == 1
    assert "example.py:" in problems[0]
    assert " imports smlocal." in problems[0]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("smlocal.emulator.control.example", "from smlocal.emulator.hosting import fleet"),
        ("smlocal.emulator.wire.edge", "from smlocal.emulator.hosting import capture_flush"),
        ("smlocal.emulator.runtime.example", "from smlocal.emulator.wire import parsing"),
        ("smlocal.emulator.jobs.example", "from smlocal.emulator.support.state import State"),
        ("smlocal.emulator.support.example", "from smlocal.emulator.settings import X"),
        ("smlocal.emulator.jobs.example", "from smlocal.model_monitor import contract"),
        ("smlocal.model_server.example", "from smlocal.capture_sink import keys"),
        ("smlocal.capture_sink.example", "from smlocal.cli_common import local_path"),
        ("smlocal.emulator.server", "from smlocal.emulator.wire.edge import Edge"),
        ("smlocal.emulator.console.example", "from smlocal.emulator.control import operations"),
        ("smlocal.emulator.console.example", "from smlocal.emulator.runtime import metrics"),
        ("smlocal.emulator.server", "from smlocal.emulator.console.app import Console"),
    ],
)
def test_an_import_that_points_down_passes(module: str, source: str) -> None:
    assert _checked(module, source) == []


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
