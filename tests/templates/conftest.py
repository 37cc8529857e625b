"""Template fixtures: a migrated database with a DraftStore and a TemplateStore (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from drafter.settings import PROJECT_ROOT
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.repository import DraftStore
from drafter.templates.store import TemplateStore, files_of_dir

DEFAULT_DIR: Path = PROJECT_ROOT / "prompts" / "default"


@pytest.fixture
def default_files() -> dict[str, str]:
    return files_of_dir(DEFAULT_DIR)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(database_url)
    try:
        await upgrade(built)
        yield built
    finally:
        await built.dispose()


@pytest.fixture
async def drafts(engine: AsyncEngine) -> DraftStore:
    return DraftStore(engine)


@pytest.fixture
async def templates(drafts: DraftStore) -> TemplateStore:
    return TemplateStore(drafts)
