"""Find report types in installed packages: the entry-point group `reportsvc.report_types`.

Every process (web, worker, scheduler) calls `discover()` at start-up; each entry point names a
`ReportType` object (`module:attribute`). reportsvc's own types are declared the same way in its
pyproject.toml. Two types with one name stop start-up with an error naming both packages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from importlib import import_module, metadata
from typing import Any

from reportsvc.reports import registry
from reportsvc.reports.registry import ReportType

log = logging.getLogger("reportsvc.reports")

GROUP = "reportsvc.report_types"

#: reportsvc's own entry points, as in its pyproject.toml. A checkout whose installed metadata predates a
#: built-in (pyproject changed, no `pip install -e .` since) still gets it from here, with a warning.
BUILTINS = {
    "operations": "reportsvc.reports.operations:OPERATIONS",
    "table": "reportsvc.reports.table:TABLE",
}


#: Names the last discovery registered (types registered by hand, in tests, are left alone).
_discovered: set[str] = set()


class ReportTypeConflict(RuntimeError):
    """Two installed packages declare report types with one name, or an entry point is not a ReportType."""


def _package(entry: Any) -> str:
    dist = getattr(entry, "dist", None)
    return str(dist.name) if dist is not None and getattr(dist, "name", None) else "unknown package"


def _load(entry: Any, package: str) -> ReportType:
    try:
        found = entry.load()
    except Exception as exc:
        raise ReportTypeConflict(
            f"report type entry point {entry.name!r} of package {package!r} ({entry.value}) failed to load: "
            f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(found, ReportType):
        raise ReportTypeConflict(f"report type entry point {entry.name!r} of package {package!r} "
                                 f"({entry.value}) is a {type(found).__name__}, not a reportsvc ReportType")
    return replace(found, package=package)


def collect(entries: Iterable[Any]) -> dict[str, ReportType]:
    """Load entry points into {type name: type}; raise ReportTypeConflict on a name declared twice."""
    found: dict[str, ReportType] = {}
    for entry in entries:
        package = _package(entry)
        rt = _load(entry, package)
        other = found.get(rt.name)
        if other is not None:
            raise ReportTypeConflict(
                f"report type {rt.name!r} is declared by two packages: {other.package!r} and {package!r}; "
                "uninstall one of them or rename its type")
        found[rt.name] = rt
    return found


def _builtin(name: str) -> ReportType:
    module, _, attribute = BUILTINS[name].partition(":")
    return replace(getattr(import_module(module), attribute), package="reportsvc")


def discover(entries: Iterable[Any] | None = None) -> list[ReportType]:
    """Replace the registry with the installed report types; return them. Raises ReportTypeConflict."""
    listed = list(metadata.entry_points(group=GROUP)) if entries is None else list(entries)
    found = collect(listed)
    for name in BUILTINS:
        if name not in found:
            log.warning("built-in report type %r is missing from the installed entry points (the package "
                        "metadata predates it: run `pip install -e .`); registering it directly", name)
            found[name] = _builtin(name)
    for name in _discovered - set(found):
        registry.unregister(name)  # uninstalled since the last discovery (tests re-discover)
    for rt in found.values():
        registry.register(rt)
    _discovered.clear()
    _discovered.update(found)
    registry.mark_discovered()
    log.debug("report types: %s", ", ".join(f"{rt.name} {rt.version} ({rt.package})" for rt in found.values()))
    return list(found.values())


def _discover_lazily() -> None:
    discover()


registry._loader = _discover_lazily  # a process that did not discover at start-up does on its first lookup
