"""The shared Redis cache, read and written so that a Redis outage never fails a request.

The cache holds only counters (rate limits, API throttles): losing them for a while is harmless,
failing a customer's complaint because of them is not. While Redis is unreachable, reads miss,
writes are skipped, ``add`` reports nothing added and ``incr`` reports the key missing, which
django-ratelimit (``RATELIMIT_FAIL_OPEN``) and DRF's throttles take as "not limited".
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
# One warning per outage and process every so often, not one per request.
WARN_EVERY_SECONDS = 60.0
_last_warning = 0.0
# INCRBY on a key that exists, else nothing (nil): EXISTS and INCRBY as one atomic step.
INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


def _warn(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY_SECONDS:
        _last_warning = now
        log.warning("cache unreachable, carrying on without it: %s", exc)


class FailSoftRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._incr_existing: Any = None  # INCR_EXISTING, registered once, run on any client

    def get_client(self, key=None, *, write=False):
        # Django builds a new redis.Redis for every cache call, and redis-py fills its table of
        # response callbacks each time: about half the CPU of a rate-limit check. One client per
        # connection pool serves every call, as thread-safe as the pool under it.
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))  # pools live as long as this object
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def add(self, key, value, timeout) -> bool:
        try:
            return super().add(key, value, timeout)
        except UNREACHABLE as exc:
            _warn(exc)
            return False

    def get(self, key, default) -> Any:
        try:
            return super().get(key, default)
        except UNREACHABLE as exc:
            _warn(exc)
            return default

    def set(self, key, value, timeout) -> None:
        try:
            super().set(key, value, timeout)
        except UNREACHABLE as exc:
            _warn(exc)

    def touch(self, key, timeout) -> bool:
        try:
            return super().touch(key, timeout)
        except UNREACHABLE as exc:
            _warn(exc)
            return False

    def delete(self, key) -> bool:
        try:
            return super().delete(key)
        except UNREACHABLE as exc:
            _warn(exc)
            return False

    def get_many(self, keys) -> dict:
        try:
            return super().get_many(keys)
        except UNREACHABLE as exc:
            _warn(exc)
            return {}

    def has_key(self, key) -> bool:
        try:
            return super().has_key(key)
        except UNREACHABLE as exc:
            _warn(exc)
            return False

    def incr(self, key, delta) -> int:
        """Add ``delta`` to a counter that exists, in one atomic step; ValueError when it does not,
        as Django's ``incr``. Django's asks EXISTS, then INCRBY: two round trips, and a counter
        that expires between them is made again by INCRBY with no expiry at all, so a rate limit
        would count that address for ever. Here both run in Redis as one script."""
        client = self.get_client(key, write=True)
        if self._incr_existing is None:
            self._incr_existing = client.register_script(INCR_EXISTING)
        try:
            value = self._incr_existing(keys=[key], args=[delta], client=client)
        except UNREACHABLE as exc:
            _warn(exc)
            raise ValueError(f"Key '{key}' not found (the cache is unreachable)") from exc
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value

    def set_many(self, data, timeout) -> None:
        try:
            super().set_many(data, timeout)
        except UNREACHABLE as exc:
            _warn(exc)

    def delete_many(self, keys) -> None:
        try:
            super().delete_many(keys)
        except UNREACHABLE as exc:
            _warn(exc)

    def clear(self) -> bool:
        try:
            return super().clear()
        except UNREACHABLE as exc:
            _warn(exc)
            return False


class FailSoftRedisCache(RedisCache):
    """Django's Redis cache; an unreachable Redis is a miss, never an error (see above)."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = FailSoftRedisCacheClient
