"""No 5xx on bad input in the places the first guard missed: path parameters of every route, and JSON
nested too deeply for the parser (issue: no 5xx on bad input)."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.routing import PathConverter, Rule, UnicodeConverter

from reportsvc.web.errors import ApiError

#: Control characters as they arrive in a URL: NUL (PostgreSQL cannot store it), BEL, ESC, DEL.
BAD = ["\x00", "\x07", "\x1b", "\x7f"]
TOO_DEEP = ["[" * 3000, '{"a":' * 3000, '{"title": ' + "[" * 5000 + "]" * 5000 + "}"]


def _string_args(rule: Rule) -> list[str]:
    """The rule's variables that take free text (string and path converters)."""
    converters = getattr(rule, "_converters", {})  # werkzeug keeps a rule's converters here
    return sorted(a for a in rule.arguments if isinstance(converters.get(a), UnicodeConverter | PathConverter))


def _cases(app) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    """(endpoint, method, argument, url with the placeholder 'BAD' in that argument) for every route."""
    adapter = app.url_map.bind("localhost")
    out = []
    for rule in app.url_map.iter_rules():
        for arg in _string_args(rule):
            values = {a: "x" for a in rule.arguments}
            values[arg] = "aBADb"
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((rule.endpoint, method, arg, adapter.build(rule.endpoint, values, method=method)))
    return out


def test_every_free_text_route_is_covered(app) -> None:  # type: ignore[no-untyped-def]
    endpoints = {case[0] for case in _cases(app)}
    # A sample of the routes the review found; the parametrized test below walks all of them.
    assert {"accounts_api.disable_user", "console_users.detail", "api.get_report", "console.detail",
            "queues_api.queue_message", "console_queues.message_action", "static"} <= endpoints


@pytest.mark.parametrize("char", BAD, ids=lambda c: f"U+{ord(c):04X}")
def test_control_characters_in_any_path_parameter_are_400(admin_client, app, char) -> None:  # type: ignore[no-untyped-def]
    failures = []
    for endpoint, method, arg, url in _cases(app):
        response = admin_client.open(url.replace("BAD", f"%{ord(char):02X}"), method=method)
        if response.status_code != 400 or not _names(response, arg):
            failures.append((endpoint, method, url, response.status_code, response.get_data(as_text=True)[:200]))
    assert failures == []


def _names(response: Any, arg: str) -> bool:
    """The refusal names the parameter: in the JSON error for the API, on the styled page for the console."""
    if response.is_json:
        error = response.get_json()["error"]
        return error["code"] == "invalid_input" and error["details"][0]["field"] == arg
    html = response.get_data(as_text=True)
    return "Invalid input" in html and f"“{arg}” part of the address" in html


@pytest.mark.parametrize("body", TOO_DEEP, ids=["array", "object", "inside-a-field"])
def test_json_nested_too_deep_for_the_parser_is_400(app, client, body) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/reports", data=body, content_type="application/json")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_json" and "nested too deeply" in error["message"]
    assert client.get("/reports").get_json()["items"] == []


def test_json_nested_too_deep_on_other_routes_is_400(admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.post("/console/reports", data="[" * 3000, content_type="application/json")
    assert page.status_code == 400 and "nested too deeply" in page.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True)  # the console's styled page, not JSON
    for url in ("/users", "/queues/reports/dead/count", "/reports/not-a-uuid/retry"):
        response = admin_client.post(url, data="[" * 3000, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
        assert response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("body", TOO_DEEP[:2])
def test_read_json_body_itself_answers_400_for_too_deep_json(app, body) -> None:  # type: ignore[no-untyped-def]
    """The views' own parser, without the before_request guard in front of it."""
    from reportsvc.web.requests import read_json_body

    context = app.test_request_context("/reports", method="POST", data=body, content_type="application/json")
    with context, pytest.raises(ApiError) as info:
        read_json_body()
    assert (info.value.status, info.value.code) == (400, "invalid_json")


def test_moderately_nested_json_is_still_checked_field_by_field(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/reports", json={"params": {"deep": [[[[{"k": "a\x00b"}]]]]}})
    assert response.status_code == 422 and "params" in response.get_json()["error"]["message"]
