"""/openapi.json matches the routes, and schemathesis finds no 5xx or spec violation (issue 6)."""

from __future__ import annotations

import re

import pytest

from reportsvc.web.access import required_role
from reportsvc.web.openapi import NON_API_BLUEPRINTS, NON_API_ENDPOINTS, api_operations


def _route_operations(app) -> dict[tuple[str, str], str]:  # type: ignore[no-untyped-def]
    """{(METHOD, /openapi/{style}): endpoint} for every JSON API route in app.url_map."""
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NON_API_ENDPOINTS or rule.endpoint.split(".")[0] in NON_API_BLUEPRINTS:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            out[(method, path)] = rule.endpoint
    return out


def test_spec_describes_exactly_the_api_routes(app, anon_client):
    spec = anon_client.get("/openapi.json")
    assert spec.status_code == 200  # public: it describes, it holds no data
    documented = api_operations(spec.get_json())
    routes = set(_route_operations(app))
    assert routes - documented == set(), "routes missing from /openapi.json"
    assert documented - routes == set(), "documented operations that no route serves"


def test_spec_roles_match_the_policy(app, anon_client):
    spec = anon_client.get("/openapi.json").get_json()
    for (method, path), endpoint in _route_operations(app).items():
        op = spec["paths"][path][method.lower()]
        assert op["x-required-role"] == required_role(endpoint, method), (method, path)
        if op["x-required-role"] is not None:
            assert {"401", "403"} <= set(op["responses"]), (method, path)


@pytest.mark.slow
def test_schemathesis_against_the_live_app(app, client, auth_tokens):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi import checks as oa_checks

    # Some reports to read, cancel and retry, and a dead letter to find.
    for _ in range(3):
        client.post("/reports", json={"title": "fuzz target"})
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # Admin operations would create accounts with random names; the fuzzing runs as an operator,
    # for whom they are 403 (documented), which exercises the refusals too.
    headers = {"Authorization": f"Bearer {auth_tokens.token('test-operator')}"}
    excluded = [oa_checks.positive_data_acceptance, oa_checks.negative_data_rejection,
                oa_checks.ignored_auth, oa_checks.use_after_free, oa_checks.ensure_resource_availability,
                oa_checks.missing_required_header, oa_checks.unsupported_method]
    total = 0
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):  # type: ignore[no-untyped-def]
            nonlocal total
            total += 1
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert failures == [], "\n\n".join(failures)
    print("schemathesis requests:", total)
    assert total >= 300, total
