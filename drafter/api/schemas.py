"""Response and review bodies. The draft request body is `drafter.domain.DraftRequest`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drafter.domain import DraftStatus, clean_text
from drafter.storage.models import Draft, FindingRow, Message, Review


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class FindingOut(BaseModel):
    check: str
    code: str
    severity: Literal["block", "warn", "info"]
    target: Literal["message", "draft"] = Field(description="Which text `span` indexes into.")
    message: str
    span: tuple[int, int] | None = Field(description="[start, end) character offsets in the target text.")
    suggestion: str | None

    @classmethod
    def from_row(cls, row: FindingRow) -> FindingOut:
        span = (row.span_start, row.span_end) if row.span_start is not None and row.span_end is not None else None
        return cls(check=row.check, code=row.code, severity=row.severity, target=row.target,
                   message=row.message, span=span, suggestion=row.suggestion)


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MessageOut(BaseModel):
    id: str
    text: str
    subject: str | None
    language: str | None
    sent_at: datetime | None
    received_at: datetime
    urgency: Literal["emergency", "urgent", "routine"]
    source: str

    @classmethod
    def from_row(cls, row: Message) -> MessageOut:
        return cls(id=row.id, text=row.text, subject=row.subject, language=row.language, sent_at=_utc(row.sent_at),
                   received_at=_utc(row.received_at) or row.received_at, urgency=row.urgency,
                   source=row.source)


class ReviewOut(BaseModel):
    decision: Literal["approve", "reject"]
    reviewer: str
    final_text: str | None
    reason: str | None
    edited: bool
    char_edit_distance: int | None
    word_edit_distance: int | None
    acknowledged_blocks: bool
    seconds_to_decision: float | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Review) -> ReviewOut:
        return cls(decision=row.decision, reviewer=row.reviewer, final_text=row.final_text,
                   reason=row.reason, edited=row.edited, char_edit_distance=row.char_edit_distance,
                   word_edit_distance=row.word_edit_distance, acknowledged_blocks=row.acknowledged_blocks,
                   seconds_to_decision=row.seconds_to_decision, created_at=_utc(row.created_at) or row.created_at)


class DraftError(BaseModel):
    code: str
    message: str
    retryable: bool = True


class DraftOut(BaseModel):
    """A stored draft, ready for a clinician's review."""

    id: str
    status: DraftStatus
    text: str | None
    urgency: Literal["emergency", "urgent", "routine"]
    findings: list[FindingOut]
    message: MessageOut
    template_set: str | None
    backend: str | None
    model: str | None
    usage: UsageOut
    attempts: int
    finish_reason: str | None
    timings: dict[str, float]
    error: DraftError | None
    review: ReviewOut | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: Draft) -> DraftOut:
        """Build from a draft loaded with its message, findings and review."""
        return cls(
            id=row.id, status=DraftStatus(row.status), text=row.text, urgency=row.message.urgency,
            findings=[FindingOut.from_row(f) for f in row.findings], message=MessageOut.from_row(row.message),
            template_set=row.template_set, backend=row.backend, model=row.model,
            usage=UsageOut(prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens,
                           total_tokens=row.prompt_tokens + row.completion_tokens),
            attempts=row.attempts, finish_reason=row.finish_reason, timings=dict(row.timings or {}),
            error=DraftError(code=row.error_code, message=row.error_message or "") if row.error_code else None,
            review=ReviewOut.from_row(row.review) if row.review else None,
            created_at=_utc(row.created_at) or row.created_at, completed_at=_utc(row.completed_at),
        )


class DraftList(BaseModel):
    items: list[DraftOut]
    count: int
    limit: int
    offset: int


VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"  # JSON Schema pattern: contains at least one visible character


class ReviewCreate(BaseModel):
    """A clinician's decision on a draft."""

    # The rules below, stated in the schema too (documented only; the validators enforce them with clear messages).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "if": {"properties": {"decision": {"const": "reject"}}},
        "then": {"required": ["reason"], "properties": {"reason": {"type": "string", "pattern": VISIBLE}}}})

    decision: Literal["approve", "reject"]
    final_text: str | None = Field(default=None, max_length=20_000, json_schema_extra={"pattern": VISIBLE},
                                   description="The text as approved, if the clinician edited the draft.")
    reason: str | None = Field(default=None, max_length=2_000, description="Required when rejecting.")
    acknowledge_block_findings: bool = Field(
        default=False, strict=True, description="Must be true to approve a draft that has a block finding.")

    @model_validator(mode="before")
    @classmethod
    def _no_reviewer(cls, data: Any) -> Any:
        if isinstance(data, dict) and "reviewer" in data:
            raise ValueError("reviewer is not accepted: the reviewer is the user of the API token; remove it")
        return data

    @model_validator(mode="after")
    def _rules(self) -> ReviewCreate:
        if self.final_text is not None:
            self.final_text = clean_text(self.final_text).strip()
        if self.decision == "reject" and not self.reason:
            raise ValueError("a reason is required to reject a draft")
        if self.decision == "approve" and self.final_text is not None and not self.final_text:
            raise ValueError("final_text is empty; omit it to approve the draft as written")
        return self


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer has this shape."""

    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok", "ready", "not_ready"]
    checks: dict[str, str] = Field(default_factory=dict)


class Me(BaseModel):
    """The caller, as the API token (or OIDC access token) identifies them."""

    user_id: str
    name: str
    role: Literal["clinician", "qa", "admin"]
