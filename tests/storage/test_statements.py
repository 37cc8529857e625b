"""Database statements per draft, counted with a SQLAlchemy event listener, so round trips do not creep back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from drafter.domain import DraftStatus
from drafter.identity import Role
from drafter.services import Services, open_services
from drafter.settings import Settings
from drafter.storage.accounts import AccountStore
from tests.conftest import GOOD_REPLY, FakeLLM
from tests.storage.support import BLOCK, INFO, WARN, accept, complete, request

pytestmark = pytest.mark.anyio

# Statements per transaction, not counting BEGIN/COMMIT (which SQLAlchemy issues through the driver, not as SQL).
# accept:   INSERT message, INSERT draft, SELECT last audit hash, INSERT audit event
# complete: SELECT draft with its message, review and findings (one joined query), UPDATE draft,
#           SELECT last audit hash, INSERT audit event, and one INSERT for all findings when there are any
# PostgreSQL adds one advisory-lock SELECT per write transaction (it serialises the audit chain).
ACCEPT = {"sqlite": 4, "postgresql": 5}
COMPLETE = {"sqlite": 4, "postgresql": 5}


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs (executemany counts once)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split())[:80])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def services(database_url: str, fake_llm: FakeLLM) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, llm_base_url="http://llm.invalid/v1", llm_api_key="k")
    async with open_services(settings, llm=fake_llm) as built:
        yield built


@pytest.mark.parametrize("findings", [(), (INFO,), (BLOCK, WARN, INFO)], ids=["none", "one", "three"])
async def test_accept_and_complete_statement_counts(services: Services, findings: tuple[Any, ...]) -> None:
    store, dialect = services.store, services.store.engine.dialect.name
    with counting(store.engine) as accepted:
        _, draft_id = await accept(store)
    with counting(store.engine) as completed:
        draft = await complete(store, draft_id, findings=findings)
    assert len(accepted) == ACCEPT[dialect], accepted
    assert len(completed) == COMPLETE[dialect] + (1 if findings else 0), completed
    # The returned draft is whole without another query: the response is built from it after the session closed.
    with counting(store.engine) as after:
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
    with counting(store.engine) as statements:
        draft = await services.pipeline.draft(request("I have had a headache for three days."))
    assert bool(draft.findings) is flagged
    # Every draft reads the production label (one primary-key read), so a publish or rollback reaches every worker.
    assert len(statements) == 1 + ACCEPT[dialect] + COMPLETE[dialect] + (1 if flagged else 0), statements


async def test_a_token_check_is_one_statement(services: Services) -> None:
    accounts = AccountStore(services.store)
    user, token = await accounts.create_user("Dr. Count", Role.CLINICIAN, actor="tests")
    with counting(services.store.engine) as statements:
        principal = await accounts.authenticate(token)
    assert (principal.name, principal.role, principal.user_id) == ("Dr. Count", Role.CLINICIAN, user.id)
    assert len(statements) == 1, statements  # every request pays for it
