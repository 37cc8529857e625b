"""The hash chain of audit events: each event's hash covers its content and the previous hash."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def event_hash(*, prev_hash: str, at: datetime, actor: str, action: str, entity_type: str, entity_id: str,
               details: dict[str, Any]) -> str:
    """SHA-256 over a canonical JSON of the event and the previous event's hash."""
    body = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), actor, action, entity_type, entity_id, details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()
