"""Drafts left 'generating' by a process that stopped are marked failed (interrupted), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drafter.domain import DraftStatus
from drafter.recovery import MESSAGE, drafting_deadline_s, sweep_at_startup
from drafter.settings import Settings
from drafter.storage.models import utcnow
from drafter.storage.repository import DraftStore
from guardrails import Urgency
from tests.storage.support import accept, complete, fail, request

pytestmark = pytest.mark.anyio


async def test_only_generating_drafts_started_before_the_cutoff_are_marked(store: DraftStore) -> None:
    _, orphan = await accept(store)
    _, finished = await accept(store)
    await complete(store, finished)
    _, failed = await accept(store)
    await fail(store, failed)
    cutoff = utcnow()
    _, newer = await accept(store)
    assert await store.mark_interrupted(created_before=cutoff, error_message=MESSAGE) == 1
    marked = await store.get(orphan)
    assert (marked.status, marked.error_code, marked.text) == ("failed", "draft_interrupted", None)
    assert marked.message.text  # the message is kept
    assert (await store.get(finished)).status == "pending_review"
    assert (await store.get(failed)).error_code == "llm_timeout"
    assert (await store.get(newer)).status == "generating"
    assert [e.action for e in await store.audit_events()].count("draft.interrupted") == 1
    # a marked draft that finishes after all (the mark was a false alarm) is stored normally
    done = await complete(store, orphan)
    assert (done.status, done.error_code) == ("pending_review", None)


async def test_the_startup_sweep_spares_recent_drafts_only_on_postgresql(store: DraftStore) -> None:
    _, recent = await accept(store)
    settings = Settings(llm_base_url="http://llm.invalid/v1")
    swept = await sweep_at_startup(store, settings)
    sqlite = store.engine.dialect.name == "sqlite"
    # SQLite has one serving process per file, so everything still generating at start was interrupted; on
    # PostgreSQL another replica may be drafting it right now.
    assert swept == (1 if sqlite else 0)
    assert (await store.get(recent)).status == ("failed" if sqlite else "generating")
    assert drafting_deadline_s(settings) > settings.llm_retry_budget_s + settings.llm_timeout_s
    # older than the deadline: interrupted on both
    assert await store.mark_interrupted(created_before=utcnow() + timedelta(seconds=1), error_message=MESSAGE) \
        == (0 if sqlite else 1)


async def test_drafts_claimed_by_a_pre_generation_worker_are_left_to_the_queue(store: DraftStore) -> None:
    # A worker that died mid-draft leaves its claimed draft 'generating'; the job queue retakes it once stale
    # (pending work resumes), so the interrupted-draft sweep must not turn it into a failure.
    _, queued = await store.accept(request("My knee hurts when I climb stairs."), urgency=Urgency.ROUTINE,
                                   source="test", actor="tester", template_set="default", backend="fake",
                                   status=DraftStatus.QUEUED)
    assert await store.claim(queued, stale_before=utcnow())
    _, on_demand = await accept(store)
    assert await store.mark_interrupted(created_before=utcnow() + timedelta(seconds=1), error_message=MESSAGE) == 1
    assert (await store.get(on_demand)).status == "failed"
    assert (await store.get(queued)).status == "generating"
    assert await store.pending_generation(stale_before=utcnow() + timedelta(seconds=1)) == [queued]
