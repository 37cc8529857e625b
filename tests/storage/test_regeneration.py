"""start_regeneration: a fresh draft for the same message; what happens to the old one depends on its state."""

from __future__ import annotations

import pytest

from drafter.domain import DraftStatus
from drafter.errors import ConflictError, NotFoundError
from drafter.storage.repository import DraftStore
from guardrails import Urgency
from tests.storage.support import accept, complete, fail

pytestmark = pytest.mark.anyio


async def regenerate(store: DraftStore, draft_id: str) -> tuple[str, str]:
    return await store.start_regeneration(draft_id, actor="dr.kim", template_set="v2", backend="other")


async def in_state(store: DraftStore, state: DraftStatus) -> tuple[str, str]:
    """(message id, draft id) of an urgent message's draft in the given state."""
    message_id, draft_id = await accept(store, urgency=Urgency.URGENT)
    if state == DraftStatus.FAILED:
        await fail(store, draft_id)
    elif state != DraftStatus.GENERATING:
        await complete(store, draft_id)
    if state in {DraftStatus.APPROVED, DraftStatus.REJECTED}:
        await store.review(draft_id, decision="approve" if state == DraftStatus.APPROVED else "reject",
                           reviewer="dr", final_text=None, reason="No.", acknowledge_block_findings=False)
    return message_id, draft_id


@pytest.mark.parametrize(
    ("state", "old_after"),
    [
        (DraftStatus.FAILED, DraftStatus.SUPERSEDED),
        (DraftStatus.PENDING_REVIEW, DraftStatus.SUPERSEDED),
        (DraftStatus.REJECTED, DraftStatus.REJECTED),  # the clinician's decision stays visible
    ],
)
async def test_regeneration_starts_a_new_draft_for_the_same_message(store: DraftStore, state: DraftStatus,
                                                                    old_after: DraftStatus) -> None:
    message_id, old_id = await in_state(store, state)
    old_before = await store.get(old_id)

    same_message, new_id = await regenerate(store, old_id)

    assert same_message == message_id
    assert new_id != old_id
    old = await store.get(old_id)
    assert old.status == old_after
    assert (old.text, old.error_code, old.review is None) == (old_before.text, old_before.error_code,
                                                              old_before.review is None)
    new = await store.get(new_id)
    assert (new.status, new.message_id, new.text, new.findings, new.review) == (
        DraftStatus.GENERATING, message_id, None, [], None)
    assert (new.template_set, new.backend) == ("v2", "other")
    assert (new.urgency_rank, new.message_received_at) == (old.urgency_rank, old.message_received_at)
    drafts = [d.id for d in await store.inbox(limit=100) if d.message_id == message_id]
    assert drafts == [old_id, new_id]  # the message keeps both, the newer one last


async def test_the_regenerated_draft_can_be_completed_and_reviewed(store: DraftStore) -> None:
    _, old_id = await in_state(store, DraftStatus.FAILED)
    _, new_id = await regenerate(store, old_id)
    await complete(store, new_id)
    approved = await store.review(new_id, decision="approve", reviewer="dr", final_text=None, reason=None,
                                  acknowledge_block_findings=False)
    assert approved.status == DraftStatus.APPROVED
    assert (await store.get(old_id)).status == DraftStatus.SUPERSEDED


@pytest.mark.parametrize("state", [DraftStatus.APPROVED, DraftStatus.SUPERSEDED])
async def test_approved_or_superseded_drafts_cannot_be_regenerated(store: DraftStore, state: DraftStatus) -> None:
    if state == DraftStatus.SUPERSEDED:
        _, draft_id = await in_state(store, DraftStatus.FAILED)
        await regenerate(store, draft_id)
    else:
        _, draft_id = await in_state(store, state)
    drafts_before = len(await store.inbox(limit=100))

    with pytest.raises(ConflictError, match=str(state)):
        await regenerate(store, draft_id)

    assert (await store.get(draft_id)).status == state
    assert len(await store.inbox(limit=100)) == drafts_before


async def test_regenerating_an_unknown_draft_is_not_found(store: DraftStore) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        await regenerate(store, "nope")
    assert await store.inbox() == []


@pytest.mark.parametrize("finish", ["complete", "fail"])
async def test_a_late_result_does_not_revive_a_superseded_draft(store: DraftStore, finish: str) -> None:
    """Regenerating a stuck 'generating' draft, then its slow model call finishing, leaves one reviewable draft."""
    _, stuck_id = await in_state(store, DraftStatus.GENERATING)
    _, new_id = await regenerate(store, stuck_id)
    await (complete(store, stuck_id) if finish == "complete" else fail(store, stuck_id))
    assert (await store.get(stuck_id)).status == DraftStatus.SUPERSEDED
    await complete(store, new_id)
    reviewable = [d for d in await store.inbox() if DraftStatus(d.status).reviewable]
    assert [d.id for d in reviewable] == [new_id]
