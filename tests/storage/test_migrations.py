"""Migrations bring an empty database to the schema the ORM expects, and only once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from drafter.storage.engine import create_engine
from drafter.storage.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from drafter.storage.models import Base, Message
from drafter.storage.repository import DraftStore
from tests.storage.support import accept

pytestmark = pytest.mark.anyio

TABLES = {"messages", "drafts", "findings", "reviews", "audit_events"}
TABLES |= {"draft_feedback", "fhir_communications"}  # 0004 inbox
TABLES |= {"users", "api_tokens"}  # issue 7
TABLES |= {"eval_runs", "eval_cases"}  # issue 6
TABLES |= {"template_versions", "template_labels", "template_label_moves"}  # issue 8


@pytest.fixture
async def empty(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database nobody has migrated yet."""
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    """What `alembic revision --autogenerate` would write: empty when migrations and models agree."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "compare_server_default": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


async def test_upgrade_brings_an_empty_database_to_head(empty: AsyncEngine) -> None:
    assert await current_revision(empty) is None
    assert not await tables(empty) & TABLES

    await upgrade(empty)

    assert await current_revision(empty) == head_revision()
    assert await tables(empty) == TABLES | {"alembic_version"}


async def test_the_migrated_schema_matches_the_models_exactly(empty: AsyncEngine) -> None:
    await upgrade(empty)
    assert await schema_differences(empty) == []


async def test_a_second_upgrade_changes_nothing_and_keeps_the_data(empty: AsyncEngine) -> None:
    await upgrade(empty)
    message_id, _ = await accept(DraftStore(empty))

    await upgrade(empty)

    assert await current_revision(empty) == head_revision()
    assert await schema_differences(empty) == []
    async with empty.connect() as conn:
        assert (await conn.execute(select(Message.id))).scalars().all() == [message_id]


async def test_downgrade_to_base_removes_the_tables_and_upgrade_restores_them(empty: AsyncEngine) -> None:
    await upgrade(empty)
    await downgrade(empty)

    assert await current_revision(empty) is None
    assert not await tables(empty) & TABLES

    await upgrade(empty)
    assert await current_revision(empty) == head_revision()
    assert await schema_differences(empty) == []


def test_the_migrations_have_a_single_head() -> None:
    """Two heads (a merge left undone) would make `upgrade head` fail on every deploy."""
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [head_revision()]
