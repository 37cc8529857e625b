"""Storage fixtures: a migrated engine and a DraftStore on it, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.repository import DraftStore


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database brought to the newest revision; disposed after the test."""
    built = create_engine(database_url)
    try:
        await upgrade(built)
        yield built
    finally:
        await built.dispose()


@pytest.fixture
async def store(engine: AsyncEngine) -> DraftStore:
    return DraftStore(engine)
