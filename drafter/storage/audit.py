"""The hash chain of audit events: each event's hash covers its content and the previous hash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

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
