"""Signed JSON POSTs to addresses a user gave us: the signature, the SSRF guard and the pinned connection.

Used by completion webhooks (`ops.webhooks`) and alert webhooks (`ops.alert_notify`). The guard resolves
the host once, refuses any address that is not globally routable (loopback, private, link-local with the
cloud metadata address, CGNAT, multicast, reserved) unless WEBHOOK_ALLOW_PRIVATE is on, and the connection
then goes to that very address (the Host header and TLS name stay the URL's), so a DNS answer that changes
between check and connect cannot smuggle a private address in. Redirects are never followed: http.client
does not follow them, and a 3xx counts as a failed attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Header carrying "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>".
SIGNATURE_HEADER = "X-Reportsvc-Signature"
#: At most this much of a receiver's answer is kept (on the timeline).
KEEP_BODY_BYTES = 1024


class UnsafeTarget(ValueError):
    """The URL may not be called: wrong scheme, no host, or an address the guard refuses."""


@dataclass(frozen=True)
class Reply:
    """What the receiver answered."""

    status: int
    body: str


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Reportsvc-Signature value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(url: str, *, allow_private: bool) -> tuple[str, int, str]:
    """(scheme, port, address to connect to) for the URL, or UnsafeTarget."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("only http:// and https:// URLs with a host are called")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeTarget(f"host {parts.hostname!r} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not allow_private:
        refused = [a for a in addresses if not _allowed(a)]
        if refused:
            # One refused answer refuses the host: connecting to the others would let a round-robin name win.
            raise UnsafeTarget(f"{parts.hostname} resolves to {refused[0]}, which is not a public address "
                               "(set WEBHOOK_ALLOW_PRIVATE=1 to allow it)")
    return parts.scheme, port, str(addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a given address while the certificate is checked against the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        """Open the TCP connection to the pinned address, then TLS with the URL's host as its name."""
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP to a given address, with the URL's host in the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        """Open the TCP connection to the pinned address."""
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post_signed(url: str, body: bytes, *, secret: str, allow_private: bool, timeout: float,
                extra_headers: dict[str, str] | None = None) -> Reply:
    """POST the JSON body, signed, to the guarded address; UnsafeTarget or OSError/HTTPException on failure."""
    scheme, port, address = resolve(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    conn_type = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    conn = conn_type(host, port, address, timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    headers = {"Content-Type": "application/json", "User-Agent": "reportsvc-webhook/1",
               SIGNATURE_HEADER: signature(secret, int(time.time()), body), **(extra_headers or {})}
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        kept = response.read(KEEP_BODY_BYTES)
        return Reply(response.status, kept.decode("utf-8", "replace"))
    finally:
        conn.close()
