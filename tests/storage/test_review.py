"""A clinician's decision: recorded once, edit distances measured, block findings acknowledged."""

from __future__ import annotations

import pytest

from drafter.domain import DraftStatus
from drafter.errors import ConflictError, ReviewRuleError
from drafter.storage.models import Draft
from drafter.storage.repository import DraftStore
from tests.storage.support import BLOCK, DRAFT_TEXT, WARN, accept, fail, reviewable

pytestmark = pytest.mark.anyio


async def decide(store: DraftStore, draft_id: str, decision: str = "approve", *, final_text: str | None = None,
                 reason: str | None = None, acknowledge: bool = False, reviewer: str = "dr.lee") -> Draft:
    return await store.review(draft_id, decision=decision, reviewer=reviewer, final_text=final_text, reason=reason,
                              acknowledge_block_findings=acknowledge)


async def test_approve_as_drafted(store: DraftStore) -> None:
    draft_id = await reviewable(store)
    returned = await decide(store, draft_id)

    for draft in (returned, await store.get(draft_id)):
        assert draft.status == DraftStatus.APPROVED
        review = draft.review
        assert review is not None
        assert (review.decision, review.reviewer, review.final_text, review.reason) == (
            "approve", "dr.lee", DRAFT_TEXT, None)
        assert (review.edited, review.char_edit_distance, review.word_edit_distance) == (False, 0, 0)
        assert review.acknowledged_blocks is False
        assert review.seconds_to_decision is not None
        assert review.seconds_to_decision >= 0


@pytest.mark.parametrize(
    ("drafted", "final", "chars", "words"),
    [
        ("kitten", "sitting", 3, 1),  # k→s, e→i, +g
        ("Take one tablet daily.", "Take two tablets daily.", 4, 2),  # o,n,e→t,w,o and +s; two words differ
        ("Call us today.", "Please call us today.", 8, 2),  # +"Please " and C→c; one word added, one changed
        ("Rest and drink water.", "Rest and  drink\nwater.", 2, 0),  # whitespace only: words are unchanged
    ],
)
async def test_approve_edited_measures_character_and_word_edits(store: DraftStore, drafted: str, final: str,
                                                                chars: int, words: int) -> None:
    draft_id = await reviewable(store, text=drafted)
    await decide(store, draft_id, final_text=final)

    review = (await store.get(draft_id)).review
    assert review is not None
    assert (review.final_text, review.edited) == (final, True)
    assert (review.char_edit_distance, review.word_edit_distance) == (chars, words)


async def test_approving_the_same_text_explicitly_is_not_an_edit(store: DraftStore) -> None:
    draft_id = await reviewable(store)
    await decide(store, draft_id, final_text=DRAFT_TEXT)
    review = (await store.get(draft_id)).review
    assert review is not None
    assert (review.edited, review.char_edit_distance, review.word_edit_distance) == (
        False, 0, 0)


async def test_reject_with_reason(store: DraftStore) -> None:
    draft_id = await reviewable(store)
    await decide(store, draft_id, "reject", reason="Wrong medication named.")

    draft = await store.get(draft_id)
    assert draft.status == DraftStatus.REJECTED
    review = draft.review
    assert review is not None
    assert (review.decision, review.reason, review.final_text, review.edited) == (
        "reject", "Wrong medication named.", None, False)
    assert (review.char_edit_distance, review.word_edit_distance) == (None, None)
    assert review.seconds_to_decision is not None
    assert review.seconds_to_decision >= 0


async def test_approving_a_block_finding_needs_acknowledgement(store: DraftStore) -> None:
    draft_id = await reviewable(store, findings=[WARN, BLOCK])
    with pytest.raises(ReviewRuleError, match="acknowledge_block_findings") as caught:
        await decide(store, draft_id)
    assert "emergency" in caught.value.message

    unchanged = await store.get(draft_id)  # the refused attempt left nothing behind
    assert (unchanged.status, unchanged.review) == (DraftStatus.NEEDS_CLINICIAN, None)

    await decide(store, draft_id, acknowledge=True)
    approved = await store.get(draft_id)
    assert approved.status == DraftStatus.APPROVED
    assert approved.review is not None
    assert approved.review.acknowledged_blocks is True


async def test_a_warning_alone_needs_no_acknowledgement(store: DraftStore) -> None:
    draft_id = await reviewable(store, findings=[WARN])
    assert (await decide(store, draft_id)).status == DraftStatus.APPROVED


async def test_rejecting_a_block_finding_needs_no_acknowledgement(store: DraftStore) -> None:
    draft_id = await reviewable(store, findings=[BLOCK])
    assert (await decide(store, draft_id, "reject", reason="Unsafe.")).status == DraftStatus.REJECTED


@pytest.mark.parametrize(("first", "second"), [("approve", "approve"), ("approve", "reject"),
                                               ("reject", "approve"), ("reject", "reject")])
async def test_a_second_review_is_a_conflict(store: DraftStore, first: str, second: str) -> None:
    draft_id = await reviewable(store)
    await decide(store, draft_id, first, reason="No.", reviewer="dr.first")
    with pytest.raises(ConflictError, match="cannot be changed"):
        await decide(store, draft_id, second, reason="No.", reviewer="dr.second", final_text="Other text.")

    review = (await store.get(draft_id)).review
    assert review is not None
    assert (review.decision, review.reviewer) == (first, "dr.first")


@pytest.mark.parametrize("state", ["generating", "failed", "superseded"])
async def test_a_draft_that_is_not_waiting_for_review_cannot_be_reviewed(store: DraftStore, state: str) -> None:
    _, draft_id = await accept(store)
    if state != "generating":
        await fail(store, draft_id)
    if state == "superseded":
        await store.start_regeneration(draft_id, actor="dr", template_set="default", backend="fake")

    for decision in ("approve", "reject"):
        with pytest.raises(ConflictError, match=state):
            await decide(store, draft_id, decision, reason="No.", acknowledge=True)
    draft = await store.get(draft_id)
    assert (draft.status, draft.review) == (state, None)
