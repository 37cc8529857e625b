"""DraftStore: accept, complete, fail, get and the inbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from drafter.api.schemas import DraftOut
from drafter.domain import DraftRequest, DraftStatus
from drafter.errors import ConflictError, NotFoundError
from drafter.storage.models import Draft
from drafter.storage.repository import DraftStore
from guardrails import Urgency
from tests.storage.support import BLOCK, DRAFT_TEXT, INFO, WARN, accept, complete, fail, reviewable

pytestmark = pytest.mark.anyio


async def test_accept_stores_the_message_and_a_generating_draft(store: DraftStore) -> None:
    request = DraftRequest.model_validate({
        "message": {"text": "Chest pain since this morning.", "subject": "Pain", "language": "en"},
        "patient": {"name": "Ana", "age": 61},
        "context": {"medications": ["aspirin"]},
    })
    message_id, draft_id = await store.accept(request, urgency=Urgency.URGENT, source="portal", actor="api",
                                              template_set="default", backend="fake")
    assert message_id != draft_id

    draft = await store.get(draft_id)
    assert (draft.id, draft.message_id, draft.status) == (draft_id, message_id, DraftStatus.GENERATING)
    assert (draft.template_set, draft.backend, draft.text, draft.completed_at) == ("default", "fake", None, None)
    assert draft.urgency_rank == Urgency.URGENT.rank
    assert draft.findings == []
    assert draft.review is None
    message = draft.message
    assert (message.id, message.text, message.subject, message.language) == (
        message_id, "Chest pain since this morning.", "Pain", "en")
    assert (message.source, message.urgency, message.urgency_rank) == ("portal", "urgent", 1)
    assert (message.request["patient"]["name"], message.request["patient"]["age"]) == ("Ana", 61)
    assert message.request["context"]["medications"] == ["aspirin"]
    assert "message" not in message.request  # the message lives in its own columns


def _check_completed(draft: Draft, draft_id: str) -> None:
    assert draft.id == draft_id
    assert draft.status == DraftStatus.NEEDS_CLINICIAN
    assert draft.text == DRAFT_TEXT
    assert (draft.model, draft.finish_reason, draft.attempts) == ("fake-model", "stop", 1)
    assert (draft.prompt_tokens, draft.completion_tokens) == (120, 30)
    assert draft.timings == {"llm": 0.5, "total": 0.75}
    assert draft.completed_at is not None
    assert draft.message.text == "My knee hurts when I climb stairs."
    assert draft.review is None
    rows = [(f.position, f.check, f.code, f.severity, f.target, f.message, f.span_start, f.span_end, f.suggestion)
            for f in draft.findings]
    assert rows == [
        (0, "length", "short", "warn", "draft", "Short reply.", 10, 20, "Say more."),
        (1, "emergency", "chest_pain", "block", "message", "Possible emergency.", 0, 4, None),
        (2, "tone", "tone_ok", "info", "draft", "Friendly.", None, None, None),
    ]


async def test_complete_stores_the_draft_and_returns_it_loaded(store: DraftStore) -> None:
    _, draft_id = await accept(store)
    returned = await complete(store, draft_id, status=DraftStatus.NEEDS_CLINICIAN, findings=[WARN, BLOCK, INFO])

    _check_completed(returned, draft_id)  # what the pipeline hands to the API
    stored = await store.get(draft_id)
    _check_completed(stored, draft_id)  # and what a later read finds
    # The returned draft is built from the rows the write returned, not read again: the whole response must match.
    assert DraftOut.from_row(returned) == DraftOut.from_row(stored)


async def test_a_draft_that_failed_and_then_completes_keeps_only_the_new_findings(store: DraftStore) -> None:
    # A stale claim that failed for one worker and was finished by another: the findings are replaced, not doubled.
    _, draft_id = await accept(store)
    await fail(store, draft_id)
    returned = await complete(store, draft_id, text="Second text.", findings=[WARN])

    for draft in (returned, await store.get(draft_id)):
        assert (draft.text, draft.status, draft.error_code) == ("Second text.", DraftStatus.PENDING_REVIEW, None)
        assert [(f.position, f.check) for f in draft.findings] == [(0, "length")]


LATE_WRITES: dict[str, Callable[[DraftStore, str], Awaitable[Any]]] = {
    "complete": lambda store, draft_id: complete(store, draft_id, text="A late worker's text."),
    "fail": lambda store, draft_id: fail(store, draft_id),
}


@pytest.mark.parametrize(("decision", "why"), [
    (None, "finished by another worker"),  # it may be open in front of a clinician: the first finished draft stands
    ("approve", "approved by a clinician"),
    ("reject", "rejected by a clinician"),
])
@pytest.mark.parametrize("write", LATE_WRITES)
async def test_a_finished_draft_is_never_written_again(store: DraftStore, write: str, decision: str | None,
                                                      why: str) -> None:
    # A stale claim drafted by a second worker (and perhaps reviewed), then finished by the first.
    draft_id = await reviewable(store, findings=[INFO])
    if decision is not None:
        await store.review(draft_id, decision=decision, reviewer="dr", final_text=None,
                           reason=None if decision == "approve" else "Not relevant.", acknowledge_block_findings=False)
    before = DraftOut.from_row(await store.get(draft_id))
    events = len(await store.audit_events())

    with pytest.raises(ConflictError, match=f"{why} while it was being drafted again"):
        await LATE_WRITES[write](store, draft_id)

    assert DraftOut.from_row(await store.get(draft_id)) == before
    assert len(await store.audit_events()) == events


async def test_fail_marks_the_draft_failed_and_keeps_the_message(store: DraftStore) -> None:
    message_id, draft_id = await accept(store)
    await fail(store, draft_id)

    draft = await store.get(draft_id)
    assert draft.status == DraftStatus.FAILED
    assert (draft.error_code, draft.error_message) == ("llm_timeout", "The model did not answer in time.")
    assert (draft.attempts, draft.timings, draft.text) == (3, {"llm": 30.0}, None)
    assert draft.completed_at is not None
    assert [f.check for f in draft.findings] == ["tone"]
    assert (draft.message.id, draft.message.text) == (message_id, "My knee hurts when I climb stairs.")


UNKNOWN = "00000000-0000-4000-8000-000000000000"
BY_ID: dict[str, Callable[[DraftStore], Awaitable[Any]]] = {
    "get": lambda store: store.get(UNKNOWN),
    "complete": lambda store: complete(store, UNKNOWN),
    "fail": lambda store: fail(store, UNKNOWN),
    "review": lambda store: store.review(UNKNOWN, decision="approve", reviewer="dr", final_text=None, reason=None,
                                         acknowledge_block_findings=False),
}


@pytest.mark.parametrize("method", BY_ID)
async def test_an_unknown_draft_is_not_found(store: DraftStore, method: str) -> None:
    with pytest.raises(NotFoundError, match=UNKNOWN):
        await BY_ID[method](store)
    assert await store.audit_events() == []


@pytest.fixture
async def inbox(store: DraftStore) -> dict[str, str]:
    """Six drafts accepted in an order that is not the inbox order; named by urgency and arrival."""
    ids: dict[str, str] = {}
    for name, urgency in [("routine-1", Urgency.ROUTINE), ("urgent-1", Urgency.URGENT),
                          ("emergency-1", Urgency.EMERGENCY), ("routine-2", Urgency.ROUTINE),
                          ("emergency-2", Urgency.EMERGENCY), ("urgent-2", Urgency.URGENT)]:
        _, ids[name] = await accept(store, f"Message {name}", urgency=urgency)
    await complete(store, ids["routine-1"])
    await complete(store, ids["emergency-2"], status=DraftStatus.NEEDS_CLINICIAN, findings=[BLOCK])
    await fail(store, ids["urgent-2"])
    return ids


ALL = ["emergency-1", "emergency-2", "urgent-1", "urgent-2", "routine-1", "routine-2"]


@pytest.mark.parametrize(
    ("statuses", "urgent_only", "limit", "offset", "expected"),
    [
        ((), False, 50, 0, ALL),
        ((), False, 2, 0, ALL[:2]),
        ((), False, 2, 2, ALL[2:4]),
        ((), False, 50, 5, ALL[5:]),
        ((), False, 50, 6, []),
        ((), True, 50, 0, ALL[:4]),
        ((), True, 1, 3, ["urgent-2"]),
        ((DraftStatus.GENERATING,), False, 50, 0, ["emergency-1", "urgent-1", "routine-2"]),
        ((DraftStatus.PENDING_REVIEW, DraftStatus.NEEDS_CLINICIAN), False, 50, 0, ["emergency-2", "routine-1"]),
        ((DraftStatus.PENDING_REVIEW, DraftStatus.NEEDS_CLINICIAN), True, 50, 0, ["emergency-2"]),
        ((DraftStatus.FAILED, DraftStatus.GENERATING), True, 50, 0, ["emergency-1", "urgent-1", "urgent-2"]),
        ((DraftStatus.APPROVED,), False, 50, 0, []),
    ],
)
async def test_inbox_order_filters_and_pages(store: DraftStore, inbox: dict[str, str], statuses: tuple[DraftStatus],
                                             urgent_only: bool, limit: int, offset: int, expected: list[str]) -> None:
    names = {draft_id: name for name, draft_id in inbox.items()}
    rows = await store.inbox(statuses=statuses, urgent_only=urgent_only, limit=limit, offset=offset)
    assert [names[row.id] for row in rows] == expected
    # Loaded for the API without further queries.
    assert [row.message.text for row in rows] == [f"Message {name}" for name in expected]
    assert [row.review for row in rows] == [None] * len(expected)
    findings = {"emergency-2": ["emergency"], "urgent-2": ["tone"]}
    assert [[f.check for f in row.findings] for row in rows] == [findings.get(name, []) for name in expected]


async def test_inbox_keeps_a_regenerated_draft_at_its_message_place(store: DraftStore) -> None:
    _, first = await accept(store, "older")
    _, second = await accept(store, "newer")
    await fail(store, first)
    _, again = await store.start_regeneration(first, actor="dr", template_set="default", backend="fake")

    rows = await store.inbox(statuses=[DraftStatus.GENERATING])
    assert [row.id for row in rows] == [again, second]  # sorted by when the message came in, not the draft


def _aware_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.utcoffset() == timedelta(0), value


async def test_api_facing_datetimes_are_utc_on_every_backend(store: DraftStore) -> None:
    before = datetime.now(UTC)
    draft_id = await reviewable(store)
    await store.review(draft_id, decision="approve", reviewer="dr", final_text=None, reason=None,
                       acknowledge_block_findings=False)
    after = datetime.now(UTC)

    out = DraftOut.from_row(await store.get(draft_id))
    assert out.review is not None
    stamps = [out.message.received_at, out.created_at, out.completed_at, out.review.created_at]
    for stamp in stamps:
        _aware_utc(stamp)
        assert stamp is not None
        assert before <= stamp <= after
    assert stamps == sorted(stamps)  # type: ignore[type-var]


@pytest.fixture
def local_time_zone_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with a process time zone that is not UTC, as on a clinic's own server."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_zone_new_york")
@pytest.mark.parametrize(
    "sent_at",
    [
        datetime(2026, 3, 1, 10, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 3, 1, 5, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 3, 1, 10, 30, 15, 123456),  # naive: taken as UTC, like the API does on the way out
    ],
    ids=["utc", "plus-2", "minus-5", "naive"],
)
async def test_sent_at_keeps_its_instant(store: DraftStore, sent_at: datetime) -> None:
    _, draft_id = await accept(store, sent_at=sent_at.isoformat())

    out = DraftOut.from_row(await store.get(draft_id))
    _aware_utc(out.message.sent_at)
    assert out.message.sent_at == datetime(2026, 3, 1, 10, 30, 15, 123456, tzinfo=UTC)
