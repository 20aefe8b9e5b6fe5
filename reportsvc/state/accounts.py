"""Accounts and API tokens (issue 6): the only code that reads or writes `users` and `api_tokens`.

- Passwords: argon2id via argon2-cffi (`PasswordHasher` defaults, rehashed on login when they change).
- Tokens: `rsv_` + 32 random bytes (urlsafe base64); only sha256(token) is stored, plus a short prefix
  that identifies the token in listings and `tokens revoke`. The token itself is shown once.
- Token lookups are cached per process for TOKEN_CACHE_SECONDS (setting `token_cache_seconds`, default 5;
  token hash -> principal, positive results only), so an API client's requests do not each open a
  transaction to re-read the same row. Revoking a token, disabling an account or changing its role clears
  this process's cache at once; other processes (the other web workers) stop honouring the old principal
  within TOKEN_CACHE_SECONDS at most. 0 looks every request up.
- Lockout (in `login`): after `login_lockout_threshold` consecutive failures the account locks for
  `login_lockout_seconds`, doubling per further failure up to `login_lockout_max_seconds`.
- Admin guards (shared by the CLI, the admin API and the console): nobody may disable or demote the
  last enabled admin, and an acting admin (`actor=`) may not disable or demote themself. The check
  locks the enabled admin rows, so two admins demoting each other at once cannot both succeed.

Nothing here logs a password or a token (only names, token prefixes and outcomes). No Flask import.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select, update

from reportsvc.extensions import db
from reportsvc.state.login_throttle import LoginThrottle
from reportsvc.state.models import ROLES, ApiToken, User

log = logging.getLogger("reportsvc.state.accounts")

ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
TOKEN_PREFIX = "rsv_"
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
#: Tokens whose last_used_at is older than this get it refreshed (one write per minute, not per request).
LAST_USED_GRANULARITY = timedelta(seconds=60)

TOKEN_CACHE_MAX = 1024

PASSWORD_HASHER = PasswordHasher()
# Verified against when the account does not exist, so a wrong name costs as long as a wrong password.
DUMMY_HASH = PASSWORD_HASHER.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A refused account operation; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AccountConflict(AccountError):
    """Valid input refused because of the accounts' state (an admin guard): a 409, not a 422."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the user, their role, and how they proved it ("session" or "token")."""

    user_id: int
    name: str
    role: str
    via: str
    token_id: int | None = None

    def has(self, role: str) -> bool:
        """Does this principal's role include `role` (viewer < operator < admin)?"""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def utcnow() -> datetime:
    """Now, timezone-aware UTC (what every account timestamp is)."""
    return datetime.now(UTC)


def check_name(name: str) -> str:
    """A valid account name (letters, digits, _ . @ -; 1..64) or AccountError."""
    if not isinstance(name, str) or not NAME.match(name):
        raise AccountError("name", "names are 1-64 letters, digits and _ . @ - (starting with a letter or digit)")
    return name


def check_role(role: str) -> str:
    """A known role or AccountError."""
    if role not in ROLES:
        raise AccountError("role", f"role must be one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    """A password long enough (and not absurdly long) or AccountError."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError("password", f"passwords need at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise AccountError("password", f"passwords are at most {MAX_PASSWORD} characters without NUL")
    return password


def hash_password(password: str) -> str:
    """argon2id hash of a checked password."""
    return PASSWORD_HASHER.hash(check_password(password))


def generate_password() -> str:
    """A random password for generated accounts (printed once)."""
    return secrets.token_urlsafe(18)


def get_user(name: str) -> User | None:
    """The account with this name, whatever its case (`ADMIN` is `admin`: names are unique case-insensitively,
    by the index uq_users_name_lower), or None."""
    return db.session.execute(select(User).where(func.lower(User.name) == name.lower())).scalar_one_or_none()


def get_user_by_id(user_id: int) -> User | None:
    """The account with this id, or None."""
    return db.session.get(User, user_id)


def list_users() -> list[User]:
    """Every account, by name."""
    return list(db.session.execute(select(User).order_by(User.name)).scalars())


def count_users() -> int:
    """How many accounts exist."""
    return int(db.session.execute(select(func.count()).select_from(User)).scalar_one())


def create_user(name: str, role: str, password: str | None) -> User:
    """Create an account; AccountError for a taken name or bad input. Commits."""
    check_name(name)
    check_role(role)
    hashed = hash_password(password) if password is not None else None
    if get_user(name) is not None:
        raise AccountError("name", f"an account named {name!r} already exists")
    user = User(name=name, role=role, password_hash=hashed, disabled=False, auth_epoch=0, failed_logins=0)
    db.session.add(user)
    db.session.commit()
    log.info("account created: %s (%s)", name, role)
    return user


def set_password(name: str, password: str) -> User:
    """Replace an account's password; ends its existing sessions. Commits."""
    user = _require(name)
    user.password_hash = hash_password(password)
    user.auth_epoch += 1
    user.failed_logins, user.locked_until, user.updated_at = 0, None, utcnow()
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.user_id == user.id))  # unlocks every address
    db.session.commit()
    log.info("password changed: %s", name)
    return user


def set_role(name: str, role: str, *, actor: str | None = None) -> User:
    """Change an account's role (admin guards: see the module docstring). Commits."""
    check_role(role)
    user = _require(name)
    if user.role == "admin" and role != "admin":
        _guard_admin_loss(user, actor, "lower your own role")
    user.role, user.updated_at = role, utcnow()
    db.session.commit()
    clear_token_cache()
    log.info("role changed: %s -> %s", name, role)
    return user


def set_disabled(name: str, disabled: bool = True, *, actor: str | None = None) -> User:
    """Disable (or re-enable) an account: its sessions end and its tokens stop working. Commits.

    Admin guards: see the module docstring."""
    user = _require(name)
    if disabled:
        _guard_admin_loss(user, actor, "disable your own account")
    user.disabled = disabled
    user.auth_epoch += 1
    user.updated_at = utcnow()
    db.session.commit()
    clear_token_cache()
    log.info("account %s: %s", "disabled" if disabled else "enabled", name)
    return user


def end_sessions(name: str) -> User:
    """Sign the account out everywhere: every console session it has ends (its API tokens stay). Commits."""
    user = _require(name)
    user.auth_epoch += 1
    user.updated_at = utcnow()
    db.session.commit()
    log.info("sessions ended: %s", name)
    return user


def _require(name: str) -> User:
    user = get_user(name)
    if user is None:
        raise AccountError("name", f"no account named {name!r}")
    return user


def _guard_admin_loss(user: User, actor: str | None, self_action: str) -> None:
    """Refuse (AccountConflict) a change that takes admin rights from `user` when it is the actor or the last
    enabled admin. Leaves the enabled admin rows locked until the caller commits."""
    name, user_id = user.name, user.id  # read before a rollback expires the object
    if actor is not None and actor == name:
        db.session.rollback()
        raise AccountConflict("name", f"you cannot {self_action}; ask another admin")
    # Locking every enabled admin (in id order, so concurrent guards never deadlock) serialises two
    # admins demoting each other: the second one waits, re-reads, and sees it would be the last.
    enabled_admins = set(db.session.execute(
        select(User.id).where(User.role == "admin", User.disabled.is_(False)).order_by(User.id).with_for_update()
    ).scalars())
    if user_id in enabled_admins and not enabled_admins - {user_id}:
        db.session.rollback()
        raise AccountConflict("name", f"{name} is the last enabled admin; make another admin first")


# --------------------------------------------------------------------------- tokens


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(name: str, label: str | None = None) -> tuple[ApiToken, str]:
    """A new token for the account `name`: (row, the token itself, shown once). Commits."""
    user = _require(name)
    if label is not None and (len(label) > 100 or any(ord(ch) < 32 for ch in label)):
        raise AccountError("label", "labels are at most 100 printable characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, label=label, prefix=token[:12], token_hash=_digest(token))
    db.session.add(row)
    db.session.commit()
    log.info("token created for %s: %s… (id %s)", user.name, row.prefix, row.id)
    return row, token


def active_token_counts() -> dict[int, int]:
    """user id -> number of tokens not revoked (accounts without any are absent)."""
    rows = db.session.execute(
        select(ApiToken.user_id, func.count()).where(ApiToken.revoked_at.is_(None)).group_by(ApiToken.user_id)
    ).all()
    return {int(user_id): int(count) for user_id, count in rows}


def list_tokens(name: str | None = None) -> list[tuple[ApiToken, str]]:
    """(token row, owner name) pairs, newest first, optionally for one account."""
    query = select(ApiToken, User.name).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    if name is not None:
        query = query.where(User.name == name)
    return [(row, owner) for row, owner in db.session.execute(query).all()]


def revoke_token(ident: str | int, *, owner: str | None = None) -> ApiToken:
    """Revoke a token by id or by its prefix (as listed); AccountError if none or ambiguous. Commits.

    With `owner`, a token of any other account counts as not found (the console revokes per account)."""
    text_ident = str(ident).strip()
    rows: list[ApiToken] = []
    if text_ident.isdigit() and len(text_ident) < 19:
        found = db.session.get(ApiToken, int(text_ident))
        rows = [found] if found is not None else []
    elif text_ident.startswith(TOKEN_PREFIX) and len(text_ident) >= 8:
        rows = list(db.session.execute(select(ApiToken).where(ApiToken.prefix == text_ident[:12])).scalars())
    if owner is not None:
        owner_user = get_user(owner)
        rows = [row for row in rows if owner_user is not None and row.user_id == owner_user.id]
    if not rows:
        raise AccountError("token", f"no token with id or prefix {text_ident[:16]!r}")
    if len(rows) > 1:
        raise AccountError("token", "that prefix matches several tokens; revoke by id")
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.commit()
    clear_token_cache()
    log.info("token revoked: %s… (id %s)", row.prefix, row.id)
    return row


_token_cache: dict[str, tuple[float, Principal]] = {}
_token_cache_lock = threading.Lock()
_token_cache_generation = [0]  # bumped by every clear: a lookup that raced a clear does not refill


def clear_token_cache() -> None:
    """Forget every cached token principal in this process (after a revoke, disable or role change)."""
    with _token_cache_lock:
        _token_cache.clear()
        _token_cache_generation[0] += 1


def principal_for_token(token: str) -> Principal | None:
    """The principal a bearer token acts as, or None (unknown, revoked, or owner disabled).

    Positive answers are cached for TOKEN_CACHE_SECONDS (see the module docstring)."""
    from reportsvc.config import get_settings

    cache_seconds = get_settings().token_cache_seconds
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _digest(token)
    now_mono = time.monotonic()
    cached = _token_cache.get(digest) if cache_seconds > 0 else None
    if cached is not None and cached[0] > now_mono:
        return cached[1]
    generation = _token_cache_generation[0]
    found = db.session.execute(
        select(ApiToken.id, ApiToken.token_hash, ApiToken.revoked_at, ApiToken.last_used_at,
               User.id, User.name, User.role, User.disabled)
        .join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == digest)
    ).first()
    if found is None:
        return None
    token_id, token_hash, revoked_at, last_used_at, user_id, user_name, user_role, disabled = found
    if not hmac.compare_digest(token_hash, digest) or revoked_at is not None or disabled:
        with _token_cache_lock:
            _token_cache.pop(digest, None)
        return None
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_GRANULARITY:
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        db.session.commit()
    principal = Principal(user_id, user_name, user_role, "token", token_id)
    if cache_seconds > 0:
        with _token_cache_lock:
            if generation != _token_cache_generation[0]:
                return principal
            if len(_token_cache) >= TOKEN_CACHE_MAX:
                _token_cache.clear()
            _token_cache[digest] = (now_mono + cache_seconds, principal)
    return principal


def ensure_admin(password: str | None) -> str | None:
    """On a database with no accounts, create `admin`; returns the password used (generated when None)."""
    if count_users() > 0:
        return None
    chosen = password or generate_password()
    create_user("admin", "admin", chosen)
    return chosen
