"""Failed sign-ins per (account, client address): the lock that one address earns never touches another.

One row per account and address that has failed; `login.authenticate` counts an attempt here with one
conditional upsert before the password is verified. The account-wide count stays on `users.failed_logins`
and only slows sign-in down (see `login`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from reportsvc.extensions import db

#: Longest client address kept (an IPv6 address with a zone is under 64 characters).
MAX_CLIENT = 64


class LoginThrottle(db.Model):  # type: ignore[name-defined]
    """Consecutive failed sign-ins on one account from one client address, and that address's lock."""

    __tablename__ = "login_throttle"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    client: Mapped[str] = mapped_column(String(MAX_CLIENT), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
