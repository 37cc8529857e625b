"""A database that cannot be reached or used raises StorageError from every method, never a driver exception."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from drafter.domain import DraftStatus
from drafter.errors import StorageError
from drafter.storage.engine import create_engine
from drafter.storage.repository import DraftStore
from tests.conftest import PG_ADMIN_URL
from tests.storage.support import accept, complete, fail

pytestmark = pytest.mark.anyio

PG_SERVER = PG_ADMIN_URL.rsplit("/", 1)[0]
SOME_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=[
    pytest.param("postgresql://postgres@127.0.0.1:1/drafter", id="postgres-connection-refused"),
    pytest.param(f"{PG_SERVER}/drafter_no_such_database", id="postgres-unknown-database",
                 marks=pytest.mark.postgres),
    pytest.param(PG_SERVER.replace("//postgres@", "//drafter_no_such_role@") + "/postgres", id="postgres-unknown-role",
                 marks=pytest.mark.postgres),
    pytest.param("sqlite:///{tmp}", id="sqlite-path-is-a-folder"),
])
async def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DraftStore]:
    threads_before = set(threading.enumerate())
    engine = create_engine(request.param.format(tmp=tmp_path))
    try:
        yield DraftStore(engine)
    finally:
        await engine.dispose()
        # aiosqlite stops the worker thread of a connection that failed to open without waiting for it; if the
        # test's event loop closes first, the thread dies with "Event loop is closed" (omnilib/aiosqlite#241).
        for thread in set(threading.enumerate()) - threads_before:
            if "_connection_worker_thread" in thread.name:
                thread.join(timeout=5)


async def test_ping_names_the_failure(unreachable: DraftStore) -> None:
    with pytest.raises(StorageError, match=r"^The database does not answer \(\w+\)\.$") as caught:
        await unreachable.ping()
    assert caught.value.code == "storage_unavailable"
    assert caught.value.http_status == 503
    assert caught.value.__cause__ is not None


OPERATIONS: dict[str, Callable[[DraftStore], Awaitable[Any]]] = {
    "accept": accept,
    "complete": lambda store: complete(store, SOME_ID),
    "fail": lambda store: fail(store, SOME_ID),
    "start_regeneration": lambda store: store.start_regeneration(SOME_ID, actor="dr", template_set="default",
                                                                 backend="fake"),
    "review": lambda store: store.review(SOME_ID, decision="approve", reviewer="dr", final_text=None, reason=None,
                                         acknowledge_block_findings=False),
    "get": lambda store: store.get(SOME_ID),
    "inbox": lambda store: store.inbox(statuses=[DraftStatus.PENDING_REVIEW]),
    "audit_events": lambda store: store.audit_events(),
}


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_every_operation_raises_storage_error(unreachable: DraftStore, operation: str) -> None:
    with pytest.raises(StorageError, match=r"^The database is unavailable.* Try again shortly\.$") as caught:
        await OPERATIONS[operation](unreachable)
    assert caught.value.__cause__ is not None  # the driver's error stays attached for the logs


async def test_a_working_database_is_not_reported_unavailable(store: DraftStore) -> None:
    await store.ping()
    _, draft_id = await accept(store)
    await complete(store, draft_id)


async def test_connections_killed_by_the_server_are_replaced(database_url: str, store: DraftStore) -> None:
    """A PostgreSQL restart or failover drops pooled connections; the next call reconnects instead of failing."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    await accept(store, "before")
    await asyncio.gather(*(store.inbox() for _ in range(5)))  # several pooled connections

    admin = await asyncpg.connect(database_url, timeout=5)
    try:
        killed = await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        await admin.close()
    assert killed >= 1

    await accept(store, "after")
    assert sorted(d.message.text for d in await store.inbox()) == ["after", "before"]
