"""A rate limit for list mail shared by every worker: a per-second window counted in Redis."""

from __future__ import annotations

import math
import time

import redis
from uskalla_events.redis_tls import redis_client


class RateLimiter:
    """wait() returns when one more message may go; `rate` messages per second, 0 = no limit."""

    def __init__(self, redis_url: str, rate: float, key: str = "notifications:list-rate") -> None:
        self.rate = rate
        self.key = key
        self._redis_url = redis_url
        self._client: redis.Redis | None = None

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis_client(self._redis_url, socket_timeout=5)
        return self._client

    def wait(self) -> None:
        if self.rate <= 0:
            return
        allowed = max(1, math.floor(self.rate))
        while True:
            now = time.time()
            window = int(now)
            key = f"{self.key}:{window}"
            pipe = self._redis().pipeline()
            pipe.incr(key)
            pipe.expire(key, 5)
            count = int(pipe.execute()[0])
            if count <= allowed:
                return
            time.sleep(max(0.001, window + 1 - now))
