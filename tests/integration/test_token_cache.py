"""TOKEN_CACHE_SECONDS: a web process trusts a bearer token's principal that long without re-reading it, so a
token revoked by another process (another gunicorn worker, the CLI) is refused within that bound; 0 reads
the token on every request (the behaviour before issue 16)."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import text


def _fresh_token(app) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """A viewer account of its own and its token (the shared test tokens stay untouched)."""
    from reportsvc.state import accounts

    with app.app_context():
        user = accounts.create_user(f"cache-{uuid.uuid4().hex[:8]}", "viewer", None)
        row, token = accounts.create_token(user.name, "cache probe")
        return token, row.id


def _revoke_elsewhere(app, token_id: int) -> None:  # type: ignore[no-untyped-def]
    """What another process's revoke leaves behind: the row revoked, this process's cache untouched."""
    from reportsvc.extensions import db

    with app.app_context():
        db.session.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE id = :id"), {"id": token_id})
        db.session.commit()


def _get(app, token: str) -> int:  # type: ignore[no-untyped-def]
    return app.test_client().get("/reports?limit=1", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_token_revoked_by_another_process_is_refused_within_token_cache_seconds(app, settings):
    # 3 s, not 1 s: the revoke and the second request must fit inside the bound, and a loaded machine can
    # stall this thread for a second between two requests.
    settings(token_cache_seconds=3.0)
    token, token_id = _fresh_token(app)
    assert _get(app, token) == 200  # cached now
    _revoke_elsewhere(app, token_id)
    assert _get(app, token) == 200  # still inside the bound: the cached principal answers
    time.sleep(3.1)  # the entry was cached before the second request began: it has expired now
    assert _get(app, token) == 401


def test_token_cache_zero_reads_the_token_on_every_request(app, settings):
    settings(token_cache_seconds=0)
    token, token_id = _fresh_token(app)
    assert _get(app, token) == 200
    _revoke_elsewhere(app, token_id)
    assert _get(app, token) == 401
