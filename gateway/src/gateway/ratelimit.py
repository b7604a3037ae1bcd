"""The API's per-client rate limit: a moving window in Redis, one round trip per request.

flask-limiter made two Redis round trips per request for this limit (the moving-window
entry, then the window's state again for the headers) and a good deal of Python around them;
at the gateway's request rate that was more CPU than forwarding the request. This keeps the
same rule — at most N requests in any window of the given length, per client address —
with one Lua script that trims the window, counts, admits and reports in a single call,
timed by the Redis server's clock so every gateway process agrees.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

__all__ = ["ApiLimiter", "Verdict", "parse_limit"]

log = logging.getLogger(__name__)

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LIMIT = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.I)

# KEYS[1] the client's window (a sorted set of request times, ms); ARGV: window ms, limit,
# a unique member. Returns {admitted (1/0), requests in the window, oldest time, now}.
MOVING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local admitted = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  count = count + 1
  admitted = 1
end
redis.call('PEXPIRE', KEYS[1], window)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {admitted, count, tonumber(oldest[2] or now), now}
"""


def parse_limit(text: str) -> tuple[int, float]:
    """'600/minute', '600 per minute', '10/5 seconds' -> (requests, window seconds)."""
    found = LIMIT.match(text)
    if not found:
        raise ValueError(f"not a rate limit: {text!r} (write e.g. 600/minute)")
    amount, multiple, unit = found.groups()
    return int(amount), int(multiple or 1) * UNITS[unit.lower()]


@dataclass(frozen=True, slots=True)
class Verdict:
    admitted: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the oldest request in the window leaves it

    def headers(self) -> list[tuple[str, str]]:
        """RateLimit-* (draft RFC names, what CORS exposes); Retry-After on a refusal only."""
        pairs = [
            ("RateLimit-Limit", str(self.limit)),
            ("RateLimit-Remaining", str(self.remaining)),
            ("RateLimit-Reset", str(self.reset_seconds)),
        ]
        if not self.admitted:
            pairs.append(("Retry-After", str(max(1, self.reset_seconds))))
        return pairs


class ApiLimiter:
    """`hit(client)` counts one request and says whether it is within the limit. If Redis
    cannot be reached the request is served (fail open) and the failure logged."""

    def __init__(self, redis_url: str, limit: str, prefix: str = "gateway:api") -> None:
        self.amount, window = parse_limit(limit)
        self.window_ms = int(window * 1000)
        self.prefix = prefix
        self.client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        self.script = self.client.register_script(MOVING_WINDOW)
        self._warned = -math.inf

    def hit(self, client: str) -> Verdict | None:
        try:
            result: Any = self.script(
                keys=[f"{self.prefix}:{client}"],
                args=[self.window_ms, self.amount, secrets.token_hex(6)],
            )
        except redis.RedisError as exc:
            now = time.monotonic()
            if now - self._warned > 60:  # once a minute, not once a request
                self._warned = now
                log.warning("rate limits not checked, Redis unavailable: %s", exc)
            return None
        admitted, count, oldest, now = (int(v) for v in result)
        reset = max(0, math.ceil((oldest + self.window_ms - now) / 1000))
        return Verdict(bool(admitted), self.amount, max(0, self.amount - count), reset)

    def close(self) -> None:
        self.client.close()
