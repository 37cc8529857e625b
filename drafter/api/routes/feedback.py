"""Quick feedback on a draft: thumbs up or down plus reason tags, from the inbox in one click."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from drafter.api.auth import Principal, Role, require
from drafter.api.deps import ServicesDep
from drafter.api.schemas import ErrorBody
from drafter.domain import clean_text
from drafter.storage.models import DraftFeedback

router = APIRouter(prefix="/v1/drafts", tags=["inbox"])

DraftId = Annotated[str, Path(min_length=1, max_length=64, description="The draft id returned at creation.")]
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 422, 429, 503)}
Clinician = Annotated[Principal, Depends(require(Role.CLINICIAN))]
Reader = Annotated[Principal, Depends(require(Role.CLINICIAN, Role.QA))]

# A small fixed vocabulary, so feedback can be counted per reason across drafts and template versions.
FeedbackTag = Literal[
    "empathetic", "accurate", "clear", "ready_to_send",  # what was good
    "inaccurate", "unsafe", "missed_urgency", "tone", "too_long", "too_short", "too_complex", "wrong_language",
    "made_promise", "off_topic",  # what was wrong
]


class FeedbackCreate(BaseModel):
    """A clinician's quick verdict on a draft."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rating: Literal["up", "down"]
    tags: list[FeedbackTag] = Field(default_factory=list, max_length=14)
    comment: str | None = Field(default=None, max_length=1_000)

    @field_validator("tags")
    @classmethod
    def _unique(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))

    @field_validator("comment")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else clean_text(value).strip() or None


class FeedbackOut(BaseModel):
    id: str
    draft_id: str
    user: str
    rating: Literal["up", "down"]
    tags: list[str]
    comment: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: DraftFeedback) -> FeedbackOut:
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return cls(id=row.id, draft_id=row.draft_id, user=row.user_name, rating=row.rating,
                   tags=list(row.tags), comment=row.comment, created_at=created)


class FeedbackList(BaseModel):
    items: list[FeedbackOut]


@router.post("/{draft_id}/feedback", response_model=FeedbackOut, status_code=status.HTTP_201_CREATED,
             responses=ERRORS)
async def give_feedback(draft_id: DraftId, body: FeedbackCreate, services: ServicesDep,
                        principal: Clinician) -> FeedbackOut:
    """Thumbs up or down with reason tags; the author is the signed-in clinician. Several per draft are kept."""
    row = await services.store.add_feedback(draft_id, user_id=principal.user_id,
                                            user_name=principal.name, rating=body.rating,
                                            tags=body.tags, comment=body.comment)
    return FeedbackOut.from_row(row)


@router.get("/{draft_id}/feedback", response_model=FeedbackList, responses=ERRORS)
async def list_feedback(draft_id: DraftId, services: ServicesDep, _: Reader) -> FeedbackList:
    """Every piece of feedback on a draft, oldest first."""
    return FeedbackList(items=[FeedbackOut.from_row(r) for r in await services.store.feedback(draft_id)])
