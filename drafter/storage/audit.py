"""The hash chain of audit events: each event's hash covers its content and the previous hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64


def event_hash(*, prev_hash: str, at: datetime, actor: str, action: str, entity_type: str, entity_id: str,
               details: dict[str, Any]) -> str:
    """SHA-256 over a canonical JSON of the event and the previous event's hash."""
    body = json.dumps(
        [prev_hash, canonical_time(at), actor, action, entity_type, entity_id, details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def canonical_time(at: datetime) -> str:
    """The instant as hashed: UTC, microseconds, e.g. 2026-11-23T16:05:00.123456+00:00.

    The hash must recompute from the row as the database hands it back: PostgreSQL returns the aware UTC value
    that was written, SQLite the same wall-clock time without its offset. A naive value is therefore UTC (all
    storage clocks are), and an aware one is converted, so both backends give the same text.
    """
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return utc.isoformat(timespec="microseconds")


class ChainEvent(Protocol):
    """The stored fields of one audit event (drafter.storage.models.AuditEvent)."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def recompute(event: ChainEvent) -> str:
    """The hash an event must carry, from its stored fields and its stored link."""
    return event_hash(prev_hash=event.prev_hash, at=event.at, actor=event.actor, action=event.action,
                      entity_type=event.entity_type, entity_id=event.entity_id, details=event.details)


@dataclass(frozen=True)
class ChainReport:
    """What `drafter audit verify` found: the number of events, the head, and the first bad event if any."""

    events: int
    head_seq: int | None
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when every event recomputes and links to the one before it."""
        return self.problem is None

    @property
    def summary(self) -> str:
        """One line for people."""
        if not self.ok:
            where = f"event seq {self.first_bad_seq}" if self.first_bad_seq is not None else "the chain"
            return f"audit chain BROKEN at {where}: {self.problem}"
        if self.head_seq is None:
            return "audit chain OK: 0 events"
        return (f"audit chain OK: {self.events} events; head seq {self.head_seq} hash {self.head_hash} "
                f"(keep --anchor {self.head_seq}:{self.head_hash} to prove later that nothing was cut off the end)")


def verify_chain(events: Sequence[ChainEvent], *, anchor: str | None = None) -> ChainReport:
    """Walk the chain in seq order; the first event that was edited, or whose predecessor was deleted, inserted or
    moved, is named. A cut-off tail leaves a valid shorter chain, so `anchor` ("SEQ:HASH" recorded earlier) must
    still be there unchanged."""
    expected_prev, head_seq, count = GENESIS, None, 0
    for event in events:
        if recompute(event) != event.hash:
            return ChainReport(count, head_seq, expected_prev, event.seq,
                               f"{event.action} of {canonical_time(event.at)} was edited (its fields no longer "
                               "match its hash)")
        if event.prev_hash != expected_prev:
            return ChainReport(count, head_seq, expected_prev, event.seq,
                               f"{event.action} of {canonical_time(event.at)} does not follow the event before it "
                               "(an event before it was deleted, inserted or moved)")
        expected_prev, head_seq, count = event.hash, event.seq, count + 1
    if anchor is not None:
        seq_text, _, anchored_hash = anchor.partition(":")
        if not seq_text.isdigit() or len(anchored_hash) != 64:
            return ChainReport(count, head_seq, expected_prev, None, f"--anchor {anchor!r} is not SEQ:HASH")
        if not any(e.seq == int(seq_text) and e.hash == anchored_hash for e in events):
            return ChainReport(count, head_seq, expected_prev, int(seq_text),
                               "the anchored event is gone or changed (events were deleted from the end, or the "
                               "chain was rewritten)")
    return ChainReport(count, head_seq, expected_prev)
