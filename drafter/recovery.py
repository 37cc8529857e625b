"""Crash recovery: drafts left 'generating' by a process that stopped are marked failed (interrupted).

At startup the sweep takes every draft started before this process on SQLite (one serving process per file),
but on PostgreSQL only those older than the longest a draft can legitimately take, because other replicas may
be drafting right now. A periodic sweep with the same age limit catches drafts orphaned while we run (a replica
that died). The clinician or the portal then calls POST /v1/drafts/{id}/regenerate: regeneration is not
automatic, so a message that crashes the process cannot crash it again in a loop, and patient text is not
re-sent to the model without someone asking.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from drafter.errors import DrafterError
from drafter.settings import Settings
from drafter.storage.models import utcnow
from drafter.storage.repository import DraftStore

log = logging.getLogger("drafter.recovery")

MESSAGE = "Drafting was interrupted (the service stopped before the draft was finished); regenerate it."
_MARGIN_S = 30.0


def drafting_deadline_s(settings: Settings) -> float:
    """The longest a draft can legitimately stay 'generating': queue wait, retry budget, a last attempt, margin."""
    return settings.llm_queue_timeout_s + settings.llm_retry_budget_s + settings.llm_timeout_s + _MARGIN_S


async def sweep_at_startup(store: DraftStore, settings: Settings) -> int:
    """Mark drafts interrupted by a previous run as failed; return how many."""
    cutoff = utcnow()
    if store.engine.dialect.name != "sqlite":
        cutoff -= timedelta(seconds=drafting_deadline_s(settings))
    count = await store.mark_interrupted(created_before=cutoff, error_message=MESSAGE)
    if count:
        log.warning("marked interrupted drafts as failed", extra={"drafts": count})
    return count


async def sweep_forever(store: DraftStore, settings: Settings) -> None:
    """Every so often, mark drafts older than the drafting deadline as failed (runs until cancelled)."""
    deadline = drafting_deadline_s(settings)
    while True:
        await asyncio.sleep(min(300.0, deadline / 2))
        try:
            count = await store.mark_interrupted(created_before=utcnow() - timedelta(seconds=deadline),
                                                 error_message=MESSAGE)
        except DrafterError as exc:  # the database is away for a moment: try again next round
            log.warning("interrupted-draft sweep failed", extra={"error_code": exc.code})
            continue
        if count:
            log.warning("marked interrupted drafts as failed", extra={"drafts": count})
