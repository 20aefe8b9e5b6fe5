"""Signing in and sessions: password checks with lockout, and the session id an account is known by.

Reads and writes the login columns of `users` (failed_logins, last_login_at, auth_epoch) and the per-address
failure counts of `login_throttle`;
everything else about accounts is in `accounts`. Nothing here logs a password. No Flask import.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, text, update

from reportsvc.extensions import db
from reportsvc.state.accounts import DUMMY_HASH, MAX_PASSWORD, NAME, PASSWORD_HASHER, Principal, get_user, utcnow
from reportsvc.state.login_throttle import MAX_CLIENT, LoginThrottle
from reportsvc.state.models import User

log = logging.getLogger("reportsvc.state.accounts")


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a password check: the user on success, else a reason ("invalid", "locked", "disabled").

    The reason is for logs and tests only: the sign-in page answers all three alike."""

    user: User | None
    reason: str | None = None
    locked_for: int = 0


# Count the attempt as a failure BEFORE verifying, in one statement: an address under a lock gets no row back
# (so it is not counted again and its lock is not extended), and parallel guesses are serialized by the row,
# so exactly `threshold` of them are ever verified before the lock.
_COUNT_ATTEMPT = text("""
INSERT INTO login_throttle AS t (user_id, client, failures, locked_until, updated_at)
VALUES (:user_id, :client, 1,
        CASE WHEN 1 >= :threshold THEN now() + make_interval(secs => :base) END, now())
ON CONFLICT (user_id, client) DO UPDATE
SET failures = t.failures + 1,
    locked_until = CASE WHEN t.failures + 1 >= :threshold
        THEN now() + make_interval(secs => LEAST(:base * power(2, LEAST(t.failures + 1 - :threshold, 40)), :max))
        END,
    updated_at = now()
WHERE t.locked_until IS NULL OR t.locked_until <= now()
RETURNING t.failures
""")
_LOCK_LEFT = text("""
SELECT CEIL(EXTRACT(EPOCH FROM (locked_until - now())))::int FROM login_throttle
WHERE user_id = :user_id AND client = :client AND locked_until > now()
""")


def authenticate(name: str, password: str, *, client: str = "unknown", threshold: int, base_seconds: int,
                 max_seconds: int, slowdown_threshold: int = 50, slowdown_seconds: float = 0.0) -> LoginResult:
    """Check a name and password from one client address. Commits.

    After `threshold` consecutive failures from one address, that address (only) is locked out of that
    account for `base_seconds`, doubling up to `max_seconds`; past `slowdown_threshold` failures from all
    addresses together, every attempt on the account waits `slowdown_seconds` (a slow-down, never a lock).
    Every outcome costs one password hash check, so locked, disabled and wrong take the same time."""
    user = get_user(name) if isinstance(name, str) and NAME.match(name or "") else None
    if user is None or user.password_hash is None:
        _verify(DUMMY_HASH, password)
        return LoginResult(None, "invalid")
    client = (client or "unknown")[:MAX_CLIENT]
    counted = db.session.execute(_COUNT_ATTEMPT, {"user_id": user.id, "client": client, "threshold": threshold,
                                                  "base": base_seconds, "max": max_seconds}).scalar()
    account_failures = 0
    if counted is not None:
        account_failures = int(db.session.execute(
            update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        ).scalar_one())
    db.session.commit()
    if account_failures > slowdown_threshold and slowdown_seconds > 0:
        time.sleep(slowdown_seconds)
    if counted is None:
        _verify(DUMMY_HASH, password)
        left = db.session.execute(_LOCK_LEFT, {"user_id": user.id, "client": client}).scalar()
        log.warning("login refused for %s from %s: this address is locked", user.name, client)
        return LoginResult(None, "locked", int(left or 1))
    if not _verify(user.password_hash, password):
        log.warning("login failed for %s from %s (%d from this address)", user.name, client, counted)
        return LoginResult(None, "invalid")
    if user.disabled:
        return LoginResult(None, "disabled")
    if PASSWORD_HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = PASSWORD_HASHER.hash(password)
    db.session.execute(update(LoginThrottle).where(LoginThrottle.user_id == user.id, LoginThrottle.client == client)
                       .values(failures=0, locked_until=None))
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, utcnow()
    db.session.commit()
    log.info("login: %s", user.name)
    return LoginResult(user)


def address_lock(user_id: int) -> tuple[int, datetime | None]:
    """How many client addresses are locked out of this account now, and until when the last lock runs."""
    row = db.session.execute(
        select(func.count(), func.max(LoginThrottle.locked_until))
        .where(LoginThrottle.user_id == user_id, LoginThrottle.locked_until > func.now())
    ).one()
    return int(row[0]), row[1]


def clear_locks(user_id: int) -> None:
    """Forget every address's failures on this account (a password reset unlocks it). The caller commits."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.user_id == user_id))


def _verify(hashed: str, password: str) -> bool:
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD:
        return False
    try:
        return PASSWORD_HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def principal_for_user(user: User) -> Principal:
    """The principal of a session user."""
    return Principal(user.id, user.name, user.role, "session")


def session_id(user: User) -> str:
    """The id Flask-Login keeps in the session: changes when the account's auth_epoch does."""
    return f"{user.id}:{user.auth_epoch}"


def user_for_session(session_ident: str) -> User | None:
    """The enabled account a session id names, if its epoch still matches."""
    try:
        raw_id, raw_epoch = session_ident.split(":", 1)
        user_id, epoch = int(raw_id), int(raw_epoch)
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.disabled or user.auth_epoch != epoch:
        return None
    return user
