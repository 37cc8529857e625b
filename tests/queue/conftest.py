"""Queue fixtures: real Redis and PostgreSQL, a queue of its own per test (its keys deleted afterwards)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from drafter.settings import Settings
from tests.conftest import reset_pg_schema

REDIS_URL = os.environ.get("DRAFTER_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def _delete_queue(name: str) -> None:
    from redis import asyncio as aioredis

    redis = aioredis.from_url(REDIS_URL)
    try:
        keys = [key for pattern in (f"saq:{name}:*", f"saq:job:{name}:*")
                for key in [k async for k in redis.scan_iter(pattern)]]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A queue name no other test uses; its keys are deleted from Redis after the test."""
    name = f"drafter-test-{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_delete_queue(name))
    except Exception as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__}: {exc}). Start it with "
                    "./scripts/services or set DRAFTER_TEST_REDIS.", pytrace=False)
    yield name
    asyncio.run(_delete_queue(name))


@pytest.fixture
def queue_settings(settings: Settings, pg_url: str, queue_name: str) -> Settings:
    """The shared test settings on a clean PostgreSQL schema and this test's Redis queue, with quick sweeps."""
    asyncio.run(reset_pg_schema(pg_url))
    overrides = {"database_url": pg_url, "queue_url": REDIS_URL, "queue_name": queue_name, "pregenerate_sweep_s": 0.05}
    return Settings(**{**settings.model_dump(exclude_unset=True), **overrides}, _env_file=None)  # type: ignore[arg-type]
