"""Entry-point discovery of report types: built-ins the same way, plugins, conflicts named by package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from reportsvc import reports
from reportsvc.reports import discovery, registry
from reportsvc.reports.discovery import ReportTypeConflict, collect, discover
from reportsvc.reports.operations import OPERATIONS


class NoParams(BaseModel):
    """A type with no parameters."""


def _type(name: str, version: str = "1") -> reports.ReportType:
    return reports.ReportType(name=name, description=f"{name} for tests", params_model=NoParams,
                              gather=lambda source, params: None, render=lambda data: b"%PDF-", version=version)


@dataclass
class Dist:
    name: str


@dataclass
class FakeEntryPoint:
    """What importlib.metadata gives discovery: name, value, the distribution and load()."""

    name: str
    obj: Any
    package: str

    @property
    def value(self) -> str:
        return f"{self.package.replace('-', '_')}:{self.name.upper()}"

    @property
    def dist(self) -> Dist:
        return Dist(self.package)

    def load(self) -> Any:
        return self.obj


@pytest.fixture
def restore_registry():
    """Re-run real discovery after a test that discovered fake entry points."""
    yield
    discover()


def test_builtins_are_declared_as_entry_points_in_pyproject() -> None:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["reportsvc.report_types"]
    assert declared == discovery.BUILTINS


def test_installed_builtins_are_found_with_package_and_version() -> None:
    found = {rt.name: rt for rt in discover()}
    assert found["operations"].package == "reportsvc"
    assert found["operations"].version == "1.0"
    assert "operations" in reports.names()


def test_a_plugin_entry_point_registers_its_type(restore_registry) -> None:
    discover([FakeEntryPoint("operations", OPERATIONS, "reportsvc"),
              FakeEntryPoint("hello", _type("hello", "2.1"), "acme-reports")])
    hello = reports.get("hello")
    assert (hello.package, hello.version) == ("acme-reports", "2.1")
    assert "hello" in reports.names()


def test_two_packages_with_one_type_name_stop_discovery_naming_both() -> None:
    with pytest.raises(ReportTypeConflict) as info:
        collect([FakeEntryPoint("orders", _type("orders"), "acme-reports"),
                 FakeEntryPoint("orders2", _type("orders"), "globex-reports")])
    message = str(info.value)
    assert "'orders'" in message and "acme-reports" in message and "globex-reports" in message


def test_an_entry_point_that_is_not_a_report_type_is_refused_naming_its_package() -> None:
    with pytest.raises(ReportTypeConflict) as info:
        collect([FakeEntryPoint("broken", object(), "acme-reports")])
    assert "acme-reports" in str(info.value) and "not a reportsvc ReportType" in str(info.value)


def test_a_builtin_missing_from_stale_metadata_is_still_registered(restore_registry) -> None:
    found = {rt.name for rt in discover([])}
    assert set(discovery.BUILTINS) <= found


def test_rediscovery_forgets_a_type_whose_package_was_removed(restore_registry) -> None:
    discover([FakeEntryPoint("gone_soon", _type("gone_soon"), "acme-reports")])
    assert "gone_soon" in reports.names()
    discover([])
    assert "gone_soon" not in reports.names()
    with pytest.raises(reports.UnknownReportType):
        reports.get("gone_soon")


def test_gather_gets_the_title_only_when_it_takes_one() -> None:
    seen: list[Any] = []
    plain = reports.ReportType(name="plain", description="", params_model=NoParams,
                               gather=lambda source, params: seen.append(("plain", params)), render=lambda d: b"")
    titled = reports.ReportType(name="titled", description="", params_model=NoParams,
                                gather=lambda source, params, title=None: seen.append(("titled", title)),
                                render=lambda d: b"")
    plain.run_gather(None, NoParams(), title="T")
    titled.run_gather(None, NoParams(), title="T")
    assert seen == [("plain", NoParams()), ("titled", "T")]


def test_a_family_offers_its_variants_by_dotted_name(restore_registry) -> None:
    variants = {"a": _type("fam.a"), "b": _type("fam.b")}
    family = reports.ReportType(name="fam", description="", params_model=NoParams, gather=lambda s, p: None,
                                render=lambda d: b"", variants=lambda: list(variants.values()),
                                variant=variants.get)
    registry.register(family)
    try:
        assert {"fam.a", "fam.b"} <= set(reports.names()) and "fam" not in reports.names()
        assert reports.get("fam.b") is variants["b"]
        with pytest.raises(reports.UnknownReportType):
            reports.get("fam.c")
        with pytest.raises(reports.UnknownReportType):
            reports.get("fam")
    finally:
        registry.unregister("fam")


def test_start_up_discovery_stops_on_two_installed_packages_with_one_name(restore_registry, monkeypatch) -> None:
    entries = [FakeEntryPoint("orders", _type("orders"), "acme-reports"),
               FakeEntryPoint("orders", _type("orders"), "globex-reports")]
    monkeypatch.setattr(discovery.metadata, "entry_points", lambda group: entries if group == discovery.GROUP else [])
    with pytest.raises(ReportTypeConflict, match="acme-reports.*globex-reports"):
        discover()
