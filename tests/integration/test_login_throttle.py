"""Sign-in lockout per (account, client address): counted before the password is checked, exactly, in
parallel; one address's lock never stops another; locked, disabled and wrong answer alike; the account-wide
count only slows down."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

from sqlalchemy import text

from tests.conftest import TEST_PASSWORD

THRESHOLD = 5


def _user(app, role: str = "admin") -> str:  # type: ignore[no-untyped-def]
    from reportsvc.state import accounts

    name = f"lock-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        accounts.create_user(name, role, TEST_PASSWORD)
    return name


def _login(app, name: str, password: str, address: str):  # type: ignore[no-untyped-def]
    c = app.test_client()
    return c.post("/login", data={"name": name, "password": password}, environ_base={"REMOTE_ADDR": address})


def test_parallel_wrong_guesses_are_counted_exactly_and_only_threshold_are_verified(app, settings, monkeypatch):
    from reportsvc.state import login

    settings(login_lockout_threshold=THRESHOLD, login_lockout_seconds=60)
    name = _user(app)
    verified_real: list[str] = []
    real_verify = login._verify

    def spy(hashed: str, password: str) -> bool:
        if hashed != login.DUMMY_HASH:
            verified_real.append(password)
        return real_verify(hashed, password)

    monkeypatch.setattr(login, "_verify", spy)
    barrier = threading.Barrier(20)
    reasons: list[str | None] = []

    def guess(i: int) -> None:
        with app.app_context():
            barrier.wait()
            result = login.authenticate(name, f"wrong guess {i}", client="203.0.113.9", threshold=THRESHOLD,
                                        base_seconds=60, max_seconds=900)
            reasons.append(result.reason)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(reasons, key=str) == ["invalid"] * THRESHOLD + ["locked"] * (20 - THRESHOLD)
    assert len(verified_real) == THRESHOLD  # the password hash was checked before the lock only 5 times
    from reportsvc.extensions import db

    with app.app_context():
        failures, account_failures = db.session.execute(text(
            "SELECT t.failures, u.failed_logins FROM login_throttle t JOIN users u ON u.id = t.user_id "
            "WHERE u.name = :n"), {"n": name}).one()
    assert (failures, account_failures) == (THRESHOLD, THRESHOLD)


def test_an_attacker_address_locked_out_does_not_lock_the_owner(app, settings):
    settings(login_lockout_threshold=THRESHOLD, login_lockout_seconds=60)
    name = _user(app)
    for _ in range(THRESHOLD + 3):  # and a few more while locked: they do not extend anything for the owner
        assert _login(app, name, "not the password", "198.51.100.66").status_code == 401
    assert _login(app, name, TEST_PASSWORD, "198.51.100.66").status_code == 401  # the attacker's address: locked
    assert _login(app, name, TEST_PASSWORD, "192.0.2.10").status_code == 303  # the owner's: signs in


def test_locked_disabled_and_wrong_answer_alike_with_one_hash_check_each(app, settings, monkeypatch):
    from reportsvc.state import accounts, login

    settings(login_lockout_threshold=2, login_lockout_seconds=60)
    locked, disabled, plain = _user(app), _user(app), _user(app)
    for _ in range(2):
        _login(app, locked, "not the password", "198.51.100.7")
    with app.app_context():
        accounts.set_disabled(disabled)
    checks: list[int] = []
    real_verify = login._verify
    monkeypatch.setattr(login, "_verify", lambda h, p: checks.append(1) or real_verify(h, p))
    answers = []
    for name, password in ((locked, TEST_PASSWORD), (disabled, TEST_PASSWORD), (plain, "not the password"),
                           ("nobody-" + uuid.uuid4().hex[:6], TEST_PASSWORD)):
        before = len(checks)
        r = _login(app, name, password, "198.51.100.7")
        answers.append((r.status_code, r.headers.get("Retry-After"), _error_text(r.get_data(as_text=True))))
        assert len(checks) - before == 1, name
    assert len(set(answers)) == 1, answers
    assert answers[0] == (401, None, "Wrong name or password.")


def _error_text(page: str) -> str:
    import re

    found = re.search(r'role="alert"><span class="flash__text">([^<]+)<', page)
    assert found, page[:2000]
    return found.group(1)


def test_many_failures_across_addresses_only_slow_the_account_down(app, settings):
    guard = dataclasses.replace(app.extensions["reportsvc.settings"].guard, login_slowdown_threshold=3,
                                login_slowdown_seconds=0.4)
    settings(login_lockout_threshold=THRESHOLD, login_lockout_seconds=60, guard=guard)
    name = _user(app)
    for i in range(4):  # one failure from each of four addresses: none is locked, the account passes 3
        assert _login(app, name, "not the password", f"198.51.100.{i + 1}").status_code == 401
    started = time.monotonic()
    assert _login(app, name, TEST_PASSWORD, "192.0.2.10").status_code == 303  # slowed, never locked
    assert time.monotonic() - started >= 0.4
    from reportsvc.extensions import db

    with app.app_context():  # the owner's success reset the account-wide count
        assert db.session.execute(text("SELECT failed_logins FROM users WHERE name = :n"), {"n": name}).scalar() == 0


def test_the_login_pages_own_429_is_the_sign_in_page_with_the_message(app, settings):
    settings(rate_limit_login_ip="1 per 30 seconds")
    c = app.test_client()
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert c.post("/login", data={"name": "nobody", "password": "wrong"}, headers=browser).status_code == 401
    limited = c.post("/login", data={"name": "nobody", "password": "wrong", "next": "/console/queues"},
                     headers=browser)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.mimetype == "text/html"
    page = limited.get_data(as_text=True)
    assert _error_text(page) == "Too many sign-in attempts. Wait a minute and try again."
    assert 'name="password"' in page and 'value="/console/queues"' in page  # the form, ready for the next try
