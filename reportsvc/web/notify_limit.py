"""How many different addresses one account may have 'report ready' emails sent to per hour
(NOTIFY_EMAIL_RECIPIENTS_PER_HOUR), so notify_email cannot turn the service's sender into a relay.

One Redis set per account and clock hour holds the addresses used; an address already used this hour is
always allowed again. If Redis cannot answer, the create is not refused for it (as for the rate limits).
"""

from __future__ import annotations

import time

import redis
from flask import current_app

from reportsvc.redis_client import get_redis

RECIPIENTS_MESSAGE = "too many different notify_email addresses from this account this hour; try again later"

_ADD = """
local added = redis.call('sadd', KEYS[1], ARGV[1])
if added == 1 and redis.call('scard', KEYS[1]) > tonumber(ARGV[2]) then
  redis.call('srem', KEYS[1], ARGV[1])
  return 0
end
redis.call('expire', KEYS[1], 3700)
return 1
"""


def recipient_refusal(actor: str, address: str) -> int | None:
    """None when `actor` may email `address` now (and it is counted); else the seconds until the hour turns."""
    per_hour = current_app.extensions["reportsvc.settings"].guard.notify_recipients_per_hour
    if per_hour <= 0:
        return None
    now = time.time()
    hour = int(now // 3600)
    key = f"reportsvc:notify-recipients:{actor}:{hour}"
    try:
        allowed = get_redis().eval(_ADD, 1, key, address.lower(), per_hour)
    except redis.RedisError:
        return None
    return None if int(allowed) else max(1, int((hour + 1) * 3600 - now) + 1)  # type: ignore[arg-type]
