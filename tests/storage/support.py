"""Builders shared by the storage tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from drafter.domain import DraftRequest, DraftStatus
from drafter.storage.models import Draft
from drafter.storage.repository import DraftStore
from guardrails import Finding, Severity, Urgency

DRAFT_TEXT = "Thank you for your message. Your care team will reply today.\n[CLINICIAN_NAME]"
BLOCK = Finding(check="emergency", severity=Severity.BLOCK, message="Possible emergency.", span=(0, 4),
                code="chest_pain", target="message")
WARN = Finding(check="length", severity=Severity.WARN, message="Short reply.", span=(10, 20), code="short",
               target="draft", suggestion="Say more.")
INFO = Finding(check="tone", severity=Severity.INFO, message="Friendly.", code="tone_ok")


def request(text: str = "My knee hurts when I climb stairs.", **message: Any) -> DraftRequest:
    return DraftRequest.model_validate({"message": {"text": text, **message}})


async def accept(store: DraftStore, text: str = "My knee hurts when I climb stairs.", *,
                 urgency: Urgency = Urgency.ROUTINE, **message: Any) -> tuple[str, str]:
    return await store.accept(request(text, **message), urgency=urgency, source="test", actor="tester",
                              template_set="default", backend="fake")


async def complete(store: DraftStore, draft_id: str, *, text: str = DRAFT_TEXT,
                   status: DraftStatus = DraftStatus.PENDING_REVIEW, findings: Sequence[Finding] = ()) -> Draft:
    return await store.complete(draft_id, text=text, status=status, findings=findings, model="fake-model",
                                prompt_tokens=120, completion_tokens=30, attempts=1, finish_reason="stop",
                                timings={"llm": 0.5, "total": 0.75})


async def fail(store: DraftStore, draft_id: str) -> None:
    await store.fail(draft_id, error_code="llm_timeout", error_message="The model did not answer in time.",
                     findings=[INFO], attempts=3, timings={"llm": 30.0})


async def reviewable(store: DraftStore, *, text: str = DRAFT_TEXT, findings: Sequence[Finding] = (),
                     urgency: Urgency = Urgency.ROUTINE) -> str:
    """A completed draft waiting for a clinician; needs_clinician when it has a block finding."""
    _, draft_id = await accept(store, urgency=urgency)
    blocked = any(f.severity == Severity.BLOCK for f in findings)
    await complete(store, draft_id, text=text, findings=findings,
                   status=DraftStatus.NEEDS_CLINICIAN if blocked else DraftStatus.PENDING_REVIEW)
    return draft_id


async def lift_append_only(conn: AsyncConnection) -> None:
    """Drop the audit table's append-only triggers, as an insider with schema rights could (tamper tests)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
    else:
        await conn.execute(text("DROP TRIGGER audit_events_no_update"))
        await conn.execute(text("DROP TRIGGER audit_events_no_delete"))
