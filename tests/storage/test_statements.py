"""Database statements per draft, counted with a SQLAlchemy event listener, so round trips do not creep back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from drafter.domain import DraftStatus
from drafter.identity import Role
from drafter.services import Services, open_services
from drafter.settings import Settings
from drafter.storage.accounts import AccountStore
from drafter.storage.engine import create_engine, sqlite_twin
from drafter.storage.migrate import upgrade
from drafter.storage.repository import DraftStore
from tests.conftest import GOOD_REPLY, FakeLLM
from tests.storage.support import BLOCK, INFO, WARN, accept, complete, request

pytestmark = pytest.mark.anyio

# Statements per transaction, not counting BEGIN/COMMIT (which SQLAlchemy issues through the driver, not as SQL).
# accept:   INSERT message, INSERT draft, SELECT last audit hash, INSERT audit event
# complete: UPDATE draft RETURNING the row, DELETE its findings, SELECT last audit hash, INSERT audit event, SELECT
#           its message (primary key), and one INSERT for all findings when there are any: the response is built
#           from those rows, with no read transaction after the commit
# PostgreSQL adds one advisory-lock SELECT per write transaction (it serialises the audit chain).
ACCEPT = {"sqlite": 4, "postgresql": 5}
COMPLETE = {"sqlite": 5, "postgresql": 6}


@contextmanager
def listening(store: DraftStore, name: str, fn: Callable[..., None]) -> Iterator[None]:
    """`fn` on the engine event `name` while the block runs, through the async engine and, on SQLite, its twin."""
    engines = [store.engine.sync_engine, *([store.twin] if store.twin is not None else [])]
    for engine in engines:
        event.listen(engine, name, fn)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, name, fn)


@contextmanager
def counting(store: DraftStore) -> Iterator[list[str]]:
    """Every SQL statement the store sends while the block runs (executemany counts once)."""
    statements: list[str] = []
    with listening(store, "before_cursor_execute",
                   lambda _conn, _cursor, statement, *_: statements.append(" ".join(statement.split())[:80])):
        yield statements


@contextmanager
def counting_transactions(store: DraftStore) -> Iterator[list[int]]:
    """One entry per transaction the store begins while the block runs."""
    begun: list[int] = []
    with listening(store, "begin", lambda _conn: begun.append(1)):
        yield begun


@contextmanager
def refusing_reads(store: DraftStore) -> Iterator[None]:
    """Fail the test if the block opens a read transaction (a write may read inside its own)."""
    async def refused(body: Any) -> Any:
        raise AssertionError("a read transaction was opened")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "run_read", refused)
        yield


@pytest.fixture
async def services(database_url: str, fake_llm: FakeLLM) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, llm_base_url="http://llm.invalid/v1", llm_api_key="k")
    async with open_services(settings, llm=fake_llm) as built:
        yield built


@pytest.mark.parametrize("findings", [(), (INFO,), (BLOCK, WARN, INFO)], ids=["none", "one", "three"])
async def test_accept_and_complete_statement_counts(services: Services, findings: tuple[Any, ...]) -> None:
    store, dialect = services.store, services.store.engine.dialect.name
    with counting(store) as accepted:
        _, draft_id = await accept(store)
    with counting(store) as completed, refusing_reads(store):
        draft = await complete(store, draft_id, findings=findings)
    assert len(accepted) == ACCEPT[dialect], accepted
    assert len(completed) == COMPLETE[dialect] + (1 if findings else 0), completed
    # The returned draft is whole without another query: the response is built from it after the session closed.
    with counting(store) as after:
        assert draft.message.text == request().message.text
        assert [f.check for f in draft.findings] == [f.check for f in findings]
        assert draft.review is None
        assert draft.status == DraftStatus.PENDING_REVIEW
    assert after == []


@pytest.mark.parametrize(("reply", "flagged"), [
    (GOOD_REPLY, False),
    ("There is nothing to worry about. Stop taking your ibuprofen and double the other one.", True),
], ids=["clean", "flagged"])
async def test_one_draft_through_the_pipeline(services: Services, fake_llm: FakeLLM, reply: str,
                                              flagged: bool) -> None:
    store, dialect = services.store, services.store.engine.dialect.name
    fake_llm.enqueue(GOOD_REPLY, reply)
    await services.pipeline.draft(request("My knee hurts."))  # the first draft loads the production template set
    with counting(store) as statements, counting_transactions(store) as transactions:
        draft = await services.pipeline.draft(request("I have had a headache for three days."))
    assert bool(draft.findings) is flagged
    # Every draft reads the production label (one primary-key read), so a publish or rollback reaches every worker;
    # it is read inside the accept transaction, so a draft is two transactions: accept and complete.
    assert len(statements) == 1 + ACCEPT[dialect] + COMPLETE[dialect] + (1 if flagged else 0), statements
    assert len(transactions) == 2


async def test_a_draft_naming_a_version_reads_no_label(services: Services, fake_llm: FakeLLM) -> None:
    store, dialect = services.store, services.store.engine.dialect.name
    fake_llm.enqueue(GOOD_REPLY, GOOD_REPLY)
    first = await services.pipeline.draft(request("My knee hurts."))  # loads the production template set
    version = first.template_set.split("@")[1] if first.template_set else ""
    with counting(store) as statements, counting_transactions(store) as transactions:
        draft = await services.pipeline.draft(request("I have had a headache for three days."),
                                              template=f"default@{version}")
    assert draft.template_set == first.template_set
    assert draft.template_version_id == first.template_version_id
    # One read of the version (its set is then cached), then the two writes.
    assert len(statements) == 1 + ACCEPT[dialect] + COMPLETE[dialect], statements
    assert len(transactions) == 3


async def test_a_token_check_is_one_statement(services: Services) -> None:
    accounts = AccountStore(services.store)
    user, token = await accounts.create_user("Dr. Count", Role.CLINICIAN, actor="tests")
    with counting(services.store) as statements:
        principal = await accounts.authenticate(token)
    assert (principal.name, principal.role, principal.user_id) == ("Dr. Count", Role.CLINICIAN, user.id)
    assert len(statements) == 1, statements  # every request pays for it


async def test_postgresql_reads_run_without_a_transaction(services: Services) -> None:
    """No BEGIN and ROLLBACK around a read (two round trips), and no backend left idle in a transaction between
    a read's statements: each statement is its own transaction, which is what READ COMMITTED gives a read anyway."""
    store = services.store
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reads go through the twin in one hop")

    async def state_between_statements(session: Any) -> str:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
        async with store.engine.connect() as other:
            found = await other.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
            return str(found.scalar())

    async with store.reading() as session:
        assert await state_between_statements(session) == "idle"
    async with store.writing() as session:  # a write keeps its transaction
        assert await state_between_statements(session) == "idle in transaction"


async def test_on_sqlite_a_draft_and_a_token_check_go_through_the_synchronous_twin(services: Services,
                                                                                  fake_llm: FakeLLM) -> None:
    store = services.store
    if store.twin is None:
        assert store.engine.dialect.name == "postgresql"  # asyncpg: no thread hops to save
        return
    accounts = AccountStore(store)
    _, token = await accounts.create_user("Dr. Twin", Role.CLINICIAN, actor="tests")
    fake_llm.enqueue(GOOD_REPLY, GOOD_REPLY)
    await services.pipeline.draft(request("My knee hurts."))  # loads the production template set
    aiosqlite: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        aiosqlite.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        with counting(store) as statements:
            await accounts.authenticate(token)
            draft = await services.pipeline.draft(request("I have had a headache for three days."))
            await store.get(draft.id)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    # One hop to a worker thread per transaction instead of three to four per statement through aiosqlite.
    assert statements and aiosqlite == []


async def test_the_twin_is_disposed_with_the_engine(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/twin.db")
    await upgrade(engine)
    store = DraftStore(engine)
    assert store.twin is not None
    await accept(store)
    assert store.twin.pool.checkedin() == 1  # type: ignore[attr-defined]
    await engine.dispose()
    assert store.twin.pool.checkedin() == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_has_no_twin(url: str) -> None:
    assert sqlite_twin(create_engine(url)) is None  # a second connection would open a second, empty database
