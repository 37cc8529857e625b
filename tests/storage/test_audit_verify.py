"""`drafter audit verify`: an edited, deleted, inserted or moved event is named; a cut-off tail fails the anchor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, insert, update

from drafter.storage.audit import GENESIS, verify_chain
from drafter.storage.models import AuditEvent
from drafter.storage.repository import DraftStore

pytestmark = pytest.mark.anyio


async def chain_of(store: DraftStore, n: int) -> list[AuditEvent]:
    for i in range(n):
        await store.record_event(actor="tester", action="test.event", entity_type="test", entity_id=f"e{i}",
                                 details={"i": i})
    return await store.audit_events()


def edit(seq: int) -> Any:
    return update(AuditEvent).where(AuditEvent.seq == seq).values(actor="mallory")


def remove(seq: int) -> Any:
    return delete(AuditEvent).where(AuditEvent.seq == seq)


def move(seq: int) -> Any:
    return update(AuditEvent).where(AuditEvent.seq == seq).values(seq=10_000)


def forged(after: AuditEvent) -> Any:
    return insert(AuditEvent).values(seq=after.seq + 1000, at=after.at, actor="x", action="y", entity_type="z",
                                     entity_id="w", details={}, prev_hash="e" * 64, hash="d" * 64)


# name -> (the attacker's statements, given the events; the position of the event verify must name; its words)
TAMPERING: dict[str, tuple[Callable[[list[AuditEvent]], list[Any]], Callable[[list[AuditEvent]], int], str]] = {
    "edited": (lambda ev: [edit(ev[2].seq)], lambda ev: ev[2].seq, "was edited"),
    "edited-first": (lambda ev: [edit(ev[0].seq)], lambda ev: ev[0].seq, "was edited"),
    "deleted": (lambda ev: [remove(ev[1].seq)], lambda ev: ev[2].seq, "deleted, inserted or moved"),
    "deleted-first": (lambda ev: [remove(ev[0].seq)], lambda ev: ev[1].seq, "deleted, inserted or moved"),
    "moved-to-the-end": (lambda ev: [move(ev[1].seq)], lambda ev: ev[2].seq, "deleted, inserted or moved"),
    "hash-overwritten": (lambda ev: [update(AuditEvent).where(AuditEvent.seq == ev[1].seq).values(hash="f" * 64)],
                         lambda ev: ev[1].seq, "was edited"),
    "appended-forgery": (lambda ev: [forged(ev[-1])], lambda ev: ev[-1].seq + 1000, "was edited"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
async def test_tampering_is_named_at_the_first_bad_event(store: DraftStore, case: str) -> None:
    events = await chain_of(store, 5)
    assert verify_chain(events).ok
    statements, bad, words = TAMPERING[case]
    async with store.engine.begin() as conn:
        for statement in statements(events):
            await conn.execute(statement)
    report = verify_chain(await store.audit_events())
    assert not report.ok
    assert report.first_bad_seq == bad(events)
    assert words in (report.problem or "")
    assert f"BROKEN at event seq {bad(events)}" in report.summary


async def test_a_cut_off_tail_needs_the_anchor(store: DraftStore) -> None:
    events = await chain_of(store, 4)
    head = verify_chain(events)
    assert head.ok and head.head_seq == events[-1].seq and head.events == 4
    anchor = f"{head.head_seq}:{head.head_hash}"
    assert f"--anchor {anchor}" in head.summary
    async with store.engine.begin() as conn:
        await conn.execute(remove(events[-1].seq))
    shorter = await store.audit_events()
    assert verify_chain(shorter).ok  # a shorter chain is still a chain...
    cut = verify_chain(shorter, anchor=anchor)  # ...but the anchored event is gone
    assert not cut.ok and cut.first_bad_seq == events[-1].seq
    assert not verify_chain(shorter, anchor="nonsense").ok


async def test_the_chain_cannot_fork(store: DraftStore) -> None:
    """Two events with the same predecessor violate the unique link, whatever the writers' locking did."""
    events = await chain_of(store, 2)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        async with store.engine.begin() as conn:
            await conn.execute(insert(AuditEvent).values(at=events[1].at, actor="x", action="fork",
                                                         entity_type="t", entity_id="e", details={},
                                                         prev_hash=events[0].hash, hash="c" * 64))
    assert verify_chain(await store.audit_events()).ok


async def test_empty_chain_is_ok() -> None:
    report = verify_chain([])
    assert report.ok and report.events == 0 and report.head_hash == GENESIS
