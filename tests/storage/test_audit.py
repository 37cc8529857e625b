"""The audit chain: every write leaves an event, each linked to the one before and recomputable from its row."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from drafter.storage.audit import GENESIS, event_hash
from drafter.storage.models import AuditEvent
from drafter.storage.repository import DraftStore
from tests.storage.support import BLOCK, accept, complete, fail, lift_append_only, reviewable

pytestmark = pytest.mark.anyio


def recomputed(event: AuditEvent) -> str:
    """What `drafter audit verify` does: hash the stored fields again, as read back from the database."""
    return event_hash(prev_hash=event.prev_hash, at=event.at, actor=event.actor, action=event.action,
                      entity_type=event.entity_type, entity_id=event.entity_id, details=event.details)


def broken_links(events: list[AuditEvent]) -> list[int]:
    expected_prev = GENESIS
    broken = []
    for event in events:
        if event.prev_hash != expected_prev or recomputed(event) != event.hash:
            broken.append(event.seq)
        expected_prev = event.hash
    return broken


async def test_every_write_is_audited_in_one_recomputable_chain(store: DraftStore) -> None:
    approved_message, approved = await accept(store, "First message.")
    await complete(store, approved)
    await store.review(approved, decision="approve", reviewer="dr.lee", final_text="Edited reply.", reason=None,
                       acknowledge_block_findings=False)
    failed_message, failed = await accept(store, "Second message.")
    await fail(store, failed)
    _, second_try = await store.start_regeneration(failed, actor="dr.kim", template_set="default", backend="fake")
    await complete(store, second_try, findings=[BLOCK])
    await store.review(second_try, decision="reject", reviewer="dr.kim", final_text=None, reason="Unsafe.",
                       acknowledge_block_findings=False)

    events = await store.audit_events()
    assert [(e.action, e.entity_type, e.entity_id, e.actor, e.details) for e in events] == [
        ("message.received", "message", approved_message, "tester", {"source": "test", "urgency": "routine"}),
        ("draft.created", "draft", approved, "drafter", {"status": "pending_review", "model": "fake-model",
                                                         "findings": 0}),
        ("draft.approved", "draft", approved, "dr.lee", {"edited": True}),
        ("message.received", "message", failed_message, "tester", {"source": "test", "urgency": "routine"}),
        ("draft.failed", "draft", failed, "drafter", {"error_code": "llm_timeout"}),
        ("draft.regenerated", "draft", second_try, "dr.kim", {"previous": failed}),
        ("draft.created", "draft", second_try, "drafter", {"status": "pending_review", "model": "fake-model",
                                                           "findings": 1}),
        ("draft.rejected", "draft", second_try, "dr.kim", {"edited": False}),
    ]
    assert events[0].prev_hash == GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert len({e.hash for e in events}) == len(events)
    assert broken_links(events) == []  # every hash recomputes from the row as stored, on both backends
    assert all(e.at.utcoffset() in (None, timedelta(0)) for e in events)
    assert [e.at.replace(tzinfo=None) for e in events] == sorted(e.at.replace(tzinfo=None) for e in events)


async def test_refused_and_conflicting_writes_leave_no_event(store: DraftStore) -> None:
    draft_id = await reviewable(store, findings=[BLOCK])
    before = await store.audit_events()
    with pytest.raises(Exception, match="acknowledge"):
        await store.review(draft_id, decision="approve", reviewer="dr", final_text=None, reason=None,
                           acknowledge_block_findings=False)
    with pytest.raises(Exception, match="No draft"):
        await store.start_regeneration("missing", actor="dr", template_set="default", backend="fake")
    assert [e.hash for e in await store.audit_events()] == [e.hash for e in before]


async def test_tampering_with_a_stored_event_is_detected(store: DraftStore) -> None:
    for text in ("one", "two", "three"):
        await accept(store, text)
    events = await store.audit_events()
    assert broken_links(events) == []

    async with store.engine.begin() as conn:
        await lift_append_only(conn)  # the table refuses updates; an insider with schema rights drops that first
        await conn.execute(update(AuditEvent).where(AuditEvent.seq == events[1].seq)
                           .values(details={"source": "forged", "urgency": "routine"}))
    assert broken_links(await store.audit_events()) == [events[1].seq]


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 23, 16, 5, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 23, 18, 5, 0, 0, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 23, 16, 5, 0, 0),  # naive, as SQLite reads it back: UTC
    ],
    ids=["utc", "plus-2", "naive"],
)
def test_the_hash_covers_the_instant_not_its_spelling(at: datetime) -> None:
    fields = {"prev_hash": GENESIS, "actor": "a", "action": "message.received", "entity_type": "message",
              "entity_id": "m1", "details": {"b": 1, "a": [1, 2]}}
    reference = event_hash(at=datetime(2026, 11, 23, 16, 5, tzinfo=UTC), **fields)  # type: ignore[arg-type]
    assert event_hash(at=at, **fields) == reference  # type: ignore[arg-type]
    assert event_hash(at=at + timedelta(microseconds=1), **fields) != reference  # type: ignore[arg-type]


def test_the_hashed_text_is_pinned() -> None:
    """Stored chains and `drafter audit verify` depend on this exact canonical form; change it only with a migration."""
    body = ('["' + GENESIS + '","2026-11-23T16:05:00.000042+00:00","dr","draft.approved","draft","d1",'
            '{"a":[1,2],"b":true}]')
    expected = hashlib.sha256(body.encode()).hexdigest()
    assert event_hash(prev_hash=GENESIS, at=datetime(2026, 11, 23, 16, 5, 0, 42), actor="dr",
                      action="draft.approved", entity_type="draft", entity_id="d1",
                      details={"b": True, "a": [1, 2]}) == expected
