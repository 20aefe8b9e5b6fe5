"""The package layout is the architecture: computed from the source (ast), kept so by these tests.

Layers, top to bottom (README "Code map" says the same). A module may import its own package, any lower
layer, and nothing above or beside it:

    entry     reportsvc (create_app), reportsvc.cli, reportsvc.tasks (worker entry), reportsvc.dev
    web | worker     the console/API, and the actors; peers: neither imports the other
    ops       the service layer: what ties a report to its message
    state     rows and bytes: models, lifecycle, queries, storage, accounts, audit
    metrics   Prometheus series
    queues | reports     Dramatiq's Redis layout, and pure report types; peers
    base      batching, config, extensions, logs, names, redis_client

Peers may not import each other, except in the entry and base layers (wiring, and the foundation).

Imports inside functions and under TYPE_CHECKING count. The only circle allowed is Flask's own pattern: a
module importing just the blueprint `bp` it registers routes on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "reportsvc"

#: Top to bottom; a set is one layer of peers.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"reportsvc", "reportsvc.cli", "reportsvc.tasks", "reportsvc.dev"}),
    frozenset({"reportsvc.web", "reportsvc.worker"}),
    frozenset({"reportsvc.ops"}),
    frozenset({"reportsvc.state"}),
    frozenset({"reportsvc.metrics"}),
    frozenset({"reportsvc.queues", "reportsvc.reports"}),
    frozenset({"reportsvc.batching", "reportsvc.config", "reportsvc.cursors", "reportsvc.extensions", "reportsvc.logs",
               "reportsvc.names", "reportsvc.redis_client"}),
)
#: Packages that must stay free of Flask (they run in any process and are tested without an app).
NO_FLASK = ("reportsvc.queues", "reportsvc.reports")
FLASK_MODULES = ("flask", "flask_sqlalchemy", "flask_login", "flask_wtf", "flask_limiter", "flask_mail",
                 "flask_migrate", "werkzeug")
MAX_LINES = 400


@dataclass(frozen=True)
class Edge:
    """One import of a reportsvc module by another."""

    source: str
    target: str
    names: frozenset[str]
    line: int


def read_sources(root: Path = PACKAGE_DIR) -> dict[str, str]:
    """Module name -> source text for every module of the package."""
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        sources[name] = path.read_text()
    return sources


def _is_package(name: str, sources: Mapping[str, str]) -> bool:
    return any(other.startswith(name + ".") for other in sources)


def import_edges(sources: Mapping[str, str]) -> list[Edge]:
    """Every import between reportsvc modules, resolved to the most specific module imported."""
    edges = []
    for module, text in sources.items():
        package = module if _is_package(module, sources) else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    edges.append(Edge(module, _known(alias.name, sources), frozenset(), node.lineno))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    if candidate in sources:
                        edges.append(Edge(module, candidate, frozenset(), node.lineno))
                    else:
                        edges.append(Edge(module, _known(base, sources), frozenset({alias.name}), node.lineno))
    return [e for e in edges if e.target and e.target != e.source]


def _known(name: str, sources: Mapping[str, str]) -> str:
    """The longest prefix of a dotted name that is a reportsvc module ('' for third-party imports)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in sources:
            return candidate
        parts.pop()
    return ""


def layer_of(module: str) -> tuple[int, str]:
    """(layer index, top-level unit) of a module: 0 is the top layer."""
    parts = module.split(".")
    for unit in (".".join(parts[:2]), parts[0]):
        for index, layer in enumerate(LAYERS):
            if unit in layer:
                return index, unit
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS (and to README's Code map)")


def layer_violations(edges: Iterable[Edge]) -> list[str]:
    """Imports that point up a layer, or sideways to a peer package."""
    bad = []
    for edge in edges:
        (src_layer, src_unit), (dst_layer, dst_unit) = layer_of(edge.source), layer_of(edge.target)
        if src_unit == dst_unit:
            continue
        if dst_layer < src_layer:
            bad.append(f"{edge.source}:{edge.line} imports {edge.target}, a higher layer")
        elif dst_layer == src_layer and 0 < src_layer < len(LAYERS) - 1:  # entry and base modules may share
            bad.append(f"{edge.source}:{edge.line} imports {edge.target}, a peer in the same layer")
    return bad


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """Strongly connected groups of modules (import circles), ignoring blueprint-only imports."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.names == {"bp"}:
            continue  # Flask's pattern: routes registered on the blueprint of the module they extend
        graph.setdefault(edge.source, set()).add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def flask_imports(sources: Mapping[str, str]) -> list[str]:
    """Modules of the Flask-free packages that import Flask or one of its extensions."""
    bad = []
    for module, text in sources.items():
        if not module.startswith(NO_FLASK):
            continue
        for node in ast.walk(ast.parse(text)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{module}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in FLASK_MODULES]
    return bad


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return read_sources()


def test_no_import_circles(sources: dict[str, str]) -> None:
    assert cycles(import_edges(sources)) == []


def test_imports_point_down_the_layers(sources: dict[str, str]) -> None:
    assert layer_violations(import_edges(sources)) == []


def test_queues_and_reports_import_no_flask(sources: dict[str, str]) -> None:
    assert flask_imports(sources) == []


def test_modules_fit_on_a_few_screens(sources: dict[str, str]) -> None:
    sizes = sorted(((len(text.splitlines()), name) for name, text in sources.items()), reverse=True)
    print("largest modules:", ", ".join(f"{name} {lines}" for lines, name in sizes[:8]))
    assert [f"{name} ({lines} lines)" for lines, name in sizes if lines > MAX_LINES] == []


def test_top_level_reads_as_the_layers() -> None:
    entries = {p.stem for p in PACKAGE_DIR.iterdir() if not p.name.startswith(("_", ".")) or p.name == "__init__.py"}
    units = {name.removeprefix("reportsvc.") for layer in LAYERS for name in layer} | {"__init__"}
    assert entries - {"__pycache__"} <= units, "a new top-level module: put it in a layer's package"


# -- the checks catch what they are for (synthetic sources, not the real tree) -----------------------------


def _tree(**modules: str) -> dict[str, str]:
    base = {"reportsvc": "", "reportsvc.web": "", "reportsvc.state": "", "reportsvc.queues": "",
            "reportsvc.reports": "", "reportsvc.worker": ""}
    return base | {name.replace("__", "."): text for name, text in modules.items()}


def test_an_upward_import_is_caught() -> None:
    tree = _tree(reportsvc__state__models="def f():\n    from reportsvc.web import api\n",
                 reportsvc__web__api="")
    assert layer_violations(import_edges(tree)) == [
        "reportsvc.state.models:2 imports reportsvc.web.api, a higher layer"]


def test_a_peer_import_is_caught() -> None:
    tree = _tree(reportsvc__web__api="from reportsvc.worker import generate\n", reportsvc__worker__generate="")
    assert layer_violations(import_edges(tree)) == [
        "reportsvc.web.api:1 imports reportsvc.worker.generate, a peer in the same layer"]


def test_a_circle_through_a_function_import_is_caught() -> None:
    tree = _tree(reportsvc__state__a="from reportsvc.state import b\n",
                 reportsvc__state__b="def g():\n    from . import a\n")
    assert cycles(import_edges(tree)) == [["reportsvc.state.a", "reportsvc.state.b"]]


def test_a_blueprint_import_is_not_a_circle() -> None:
    tree = _tree(reportsvc__web__console="from reportsvc.web import pages\nbp = None\n",
                 reportsvc__web__pages="from reportsvc.web.console import bp\n")
    assert cycles(import_edges(tree)) == []


def test_flask_in_queues_is_caught() -> None:
    tree = _tree(reportsvc__queues__stats="import flask\n", reportsvc__reports__table="from werkzeug import x\n")
    assert sorted(flask_imports(tree)) == ["reportsvc.queues.stats:1 imports flask",
                                           "reportsvc.reports.table:1 imports werkzeug"]
