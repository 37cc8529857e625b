"""Concurrent writers: one decision per draft, no lost messages, one linear audit chain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from drafter.domain import DraftStatus
from drafter.errors import ConflictError
from drafter.storage.audit import GENESIS
from drafter.storage.engine import create_engine
from drafter.storage.repository import DraftStore
from tests.storage.support import accept, reviewable

pytestmark = pytest.mark.anyio


@pytest.fixture
async def workers(database_url: str, store: DraftStore) -> AsyncIterator[list[DraftStore]]:
    """Three stores with their own engines and pools on one database, like three API processes."""
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        yield [store, *(DraftStore(engine) for engine in engines)]
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.mark.parametrize("processes", [1, 3])
@pytest.mark.parametrize("decisions", [["approve"] * 5, ["approve", "reject"] * 3, ["reject"] * 5])
async def test_concurrent_reviews_of_one_draft_let_exactly_one_win(store: DraftStore, workers: list[DraftStore],
                                                                   processes: int, decisions: list[str]) -> None:
    draft_id = await reviewable(store)
    results = await asyncio.gather(
        *(workers[i % processes].review(draft_id, decision=decision, reviewer=f"dr.{i}", final_text=None,
                                        reason="No.", acknowledge_block_findings=False)
          for i, decision in enumerate(decisions)),
        return_exceptions=True,
    )

    winners = [i for i, result in enumerate(results) if not isinstance(result, BaseException)]
    losers = [result for result in results if isinstance(result, BaseException)]
    assert len(winners) == 1, results
    assert all(type(loser) is ConflictError for loser in losers), losers

    draft = await store.get(draft_id)
    winner = winners[0]
    assert draft.review is not None
    assert draft.review.reviewer == f"dr.{winner}"
    assert draft.status == (DraftStatus.APPROVED if decisions[winner] == "approve" else DraftStatus.REJECTED)
    decided = [e for e in await store.audit_events() if e.action in {"draft.approved", "draft.rejected"}]
    assert [(e.entity_id, e.actor) for e in decided] == [(draft_id, f"dr.{winner}")]


@pytest.mark.parametrize("processes", [1, 3])
async def test_concurrent_accepts_lose_nothing(store: DraftStore, workers: list[DraftStore], processes: int) -> None:
    results = await asyncio.gather(*(accept(workers[i % processes], f"Message number {i}") for i in range(20)))

    message_ids = {message_id for message_id, _ in results}
    draft_ids = {draft_id for _, draft_id in results}
    assert len(message_ids) == len(draft_ids) == 20
    drafts = await store.inbox(limit=100)
    assert {d.id for d in drafts} == draft_ids
    assert {d.message_id for d in drafts} == message_ids
    assert sorted(d.message.text for d in drafts) == sorted(f"Message number {i}" for i in range(20))

    events = await store.audit_events()  # twenty writers, still one unbroken chain
    assert [e.action for e in events] == ["message.received"] * 20
    assert {e.entity_id for e in events} == message_ids
    assert [e.prev_hash for e in events] == [GENESIS] + [e.hash for e in events[:-1]]
