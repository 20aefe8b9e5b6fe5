"""TRUSTED_PROXY_COUNT: at 0 a forged X-Forwarded-For is ignored; at 1 the client address (the login limit's
key, the lockout's) and https (HSTS) come from the one proxy in front, and no further."""

from __future__ import annotations

import dataclasses


def _behind(app, settings, hops: int) -> None:  # type: ignore[no-untyped-def]
    guard = dataclasses.replace(app.extensions["reportsvc.settings"].guard, trusted_proxy_count=hops)
    settings(rate_limit_login_ip="2 per 30 seconds", guard=guard)


def _attempts(app, forwarded: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    c = app.test_client()
    return [c.post("/login", data={"name": "nobody", "password": "wrong"},
                   headers={"X-Forwarded-For": ip}).status_code for ip in forwarded]


def test_without_trusted_proxies_a_forged_forwarded_for_changes_nothing(app, settings):
    _behind(app, settings, 0)
    # Three "different" clients are one address (the test client's): the third attempt is limited.
    assert _attempts(app, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [401, 401, 429]
    r = app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in r.headers


def test_behind_one_trusted_proxy_each_forwarded_client_has_its_own_limit(app, settings):
    _behind(app, settings, 1)
    assert _attempts(app, ["198.51.100.11", "198.51.100.12", "198.51.100.13"]) == [401, 401, 401]
    assert _attempts(app, ["198.51.100.14"] * 3) == [401, 401, 429]
    # Only the last hop is believed: a client prepending its own forged address stays who the proxy saw.
    assert _attempts(app, ["203.0.113.1, 198.51.100.15", "203.0.113.2, 198.51.100.15",
                           "203.0.113.3, 198.51.100.15"]) == [401, 401, 429]
    r = app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
