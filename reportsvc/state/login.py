"""Signing in and sessions: password checks with lockout, and the session id an account is known by.

Reads and writes the login columns of `users` (failed_logins, locked_until, last_login_at, auth_epoch);
everything else about accounts is in `accounts`. Nothing here logs a password. No Flask import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import update

from reportsvc.extensions import db
from reportsvc.state.accounts import DUMMY_HASH, MAX_PASSWORD, NAME, PASSWORD_HASHER, Principal, get_user, utcnow
from reportsvc.state.models import User

log = logging.getLogger("reportsvc.state.accounts")


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a password check: the user on success, else a reason ("invalid", "locked", "disabled")."""

    user: User | None
    reason: str | None = None
    locked_for: int = 0


def authenticate(name: str, password: str, *, threshold: int, base_seconds: int, max_seconds: int) -> LoginResult:
    """Check a name and password, with lockout after `threshold` consecutive failures. Commits."""
    user = get_user(name) if isinstance(name, str) and NAME.match(name or "") else None
    if user is None or user.password_hash is None:
        _verify(DUMMY_HASH, password)
        return LoginResult(None, "invalid")
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, "locked", int((user.locked_until - now).total_seconds()) + 1)
    if not _verify(user.password_hash, password):
        # Count in the database (failed_logins + 1), so parallel wrong guesses cannot overwrite each other.
        failures = int(db.session.execute(
            update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        ).scalar_one())
        if failures >= threshold:
            seconds = min(base_seconds * 2 ** (failures - threshold), max_seconds)
            db.session.execute(update(User).where(User.id == user.id)
                               .values(locked_until=now + timedelta(seconds=seconds)))
        db.session.commit()
        log.warning("login failed for %s (%d consecutive)", user.name, failures)
        return LoginResult(None, "invalid")
    if user.disabled:
        return LoginResult(None, "disabled")
    if PASSWORD_HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = PASSWORD_HASHER.hash(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    db.session.commit()
    log.info("login: %s", user.name)
    return LoginResult(user)


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
