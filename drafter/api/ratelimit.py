"""Per-token request limits (and per-address limits on failed authentication) with the `limits` library."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from drafter.errors import ConfigError, RateLimitedError
from drafter.settings import Settings


def open_storage(url: str) -> Storage:
    """The async storage for a URL as users write it (memory://, redis://...)."""
    full = url if url.startswith("async+") else f"async+{url}"
    try:
        storage = storage_from_string(full)
    except ConfigurationError as exc:
        raise ConfigError(f"DRAFTER_RATE_LIMIT_STORAGE_URL: {exc} (use memory:// or redis://host:6379; Redis "
                          "needs the coredis package).") from None
    assert isinstance(storage, Storage)
    return storage


class RateLimits:
    """Moving-window limits; a refusal says when to try again."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self._limiter = MovingWindowRateLimiter(storage or open_storage(settings.rate_limit_storage_url))
        self.per_token = parse_many(settings.rate_limit)
        self.auth_failures = parse_many(settings.auth_failure_limit)

    async def _hit(self, items: list[RateLimitItem], kind: str, key: str) -> int | None:
        """Count one hit against every window; the seconds to wait when one is exhausted, else None."""
        for item in items:
            if not await self._limiter.hit(item, kind, key):
                stats = await self._limiter.get_window_stats(item, kind, key)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def check_token(self, key: str) -> None:
        """Count a request by an authenticated caller; RateLimitedError beyond the limit."""
        wait = await self._hit(self.per_token, "token", key)
        if wait is not None:
            raise RateLimitedError(f"Too many requests for this token; try again in {wait} s.", retry_after=wait,
                                   details={"retry_after_s": wait})

    async def allow_auth_failure(self, address: str) -> int | None:
        """Count a failed authentication from `address`; None while under the limit, else the seconds left."""
        return await self._hit(self.auth_failures, "auth_failure", address)
