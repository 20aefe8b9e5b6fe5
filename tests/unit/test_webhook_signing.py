"""The webhook signature, the SSRF guard's address rules and the retry window, without a network."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from reportsvc.ops.webhook_http import UnsafeTarget, resolve, signature
from reportsvc.ops.webhooks import RETRY_SCHEDULE_MS


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"id":"x"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k" * 16, 1700000000, body) == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.1.2.3/", "http://192.168.0.1/",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]/",
                                 "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/", "http://0.0.0.0/",
                                 "http://localhost/", "http://[fd00::1]/", "http://224.0.0.1/"])
def test_non_public_addresses_are_refused(url):
    with pytest.raises(UnsafeTarget):
        resolve(url, allow_private=False)


def test_private_addresses_pass_with_allow_private():
    assert resolve("http://127.0.0.1:8080/x", allow_private=True) == ("http", 8080, "127.0.0.1")


def test_public_address_passes():
    assert resolve("https://8.8.8.8/x", allow_private=False) == ("https", 443, "8.8.8.8")


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/", "file:///etc/passwd", "http:///x"])
def test_other_schemes_are_refused(url):
    with pytest.raises(UnsafeTarget):
        resolve(url, allow_private=True)


def test_retries_cover_at_least_24_hours():
    assert sum(RETRY_SCHEDULE_MS) >= 24 * 3600 * 1000
