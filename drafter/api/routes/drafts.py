"""Drafts: create (optionally streamed), read, list in inbox order, review, regenerate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import StreamingResponse

from drafter.api.auth import Principal, Role, require
from drafter.api.deps import ServicesDep
from drafter.api.schemas import DraftList, DraftOut, ErrorBody, ReviewCreate
from drafter.domain import DraftRequest, DraftStatus
from drafter.errors import DrafterError
from drafter.llm.base import Delta

router = APIRouter(prefix="/v1/drafts", tags=["drafts"])

DraftId = Annotated[str, Path(min_length=1, max_length=64, description="The draft id returned at creation.")]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504)
}
Clinician = Annotated[Principal, Depends(require(Role.CLINICIAN))]
Reader = Annotated[Principal, Depends(require(Role.CLINICIAN, Role.QA))]


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


@router.post("", response_model=DraftOut, status_code=status.HTTP_201_CREATED, responses={
    **ERRORS, 201: {"description": "The stored draft; with ?stream=true, server-sent events: `token` events "
                                   "with text, then one `draft` event (or `error`).",
                    "content": {"text/event-stream": {}}}})
async def create_draft(body: DraftRequest, services: ServicesDep, principal: Clinician,
                       stream: Annotated[bool, Query(description="Stream tokens as server-sent events.")] = False,
                       ) -> DraftOut | StreamingResponse:
    """Draft a reply to a patient message. The draft waits for a clinician; nothing is sent to the patient."""
    pipeline = services.pipeline
    if not stream:
        return DraftOut.from_row(await pipeline.draft(body, actor=principal.name))
    pipeline.validate(body)  # bad input answers 4xx as JSON before the stream opens

    async def events() -> AsyncIterator[str]:
        try:
            async for event in pipeline.stream(body, actor=principal.name):
                if isinstance(event, Delta):
                    yield _sse("token", {"text": event.text})
                else:
                    yield _sse("draft", DraftOut.from_row(event).model_dump(mode="json"))
        except DrafterError as exc:
            yield _sse("error", {"code": exc.code, "message": exc.message, "details": exc.details})

    return StreamingResponse(events(), status_code=201, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("", response_model=DraftList, responses=ERRORS)
async def list_drafts(
    services: ServicesDep,
    _: Reader,
    status_: Annotated[list[DraftStatus] | None, Query(alias="status", description="Repeat to combine.")] = None,
    urgent: Annotated[bool, Query(description="Only emergency and same-day messages.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DraftList:
    """The inbox: most urgent first, then the oldest message first."""
    rows = await services.store.inbox(statuses=status_ or (), urgent_only=urgent, limit=limit, offset=offset)
    return DraftList(items=[DraftOut.from_row(r) for r in rows], count=len(rows), limit=limit, offset=offset)


@router.get("/{draft_id}", response_model=DraftOut, responses=ERRORS)
async def get_draft(draft_id: DraftId, services: ServicesDep, _: Reader) -> DraftOut:
    """One draft with its findings, message and review."""
    return DraftOut.from_row(await services.store.get(draft_id))


@router.post("/{draft_id}/review", response_model=DraftOut, responses=ERRORS)
async def review_draft(draft_id: DraftId, body: ReviewCreate, services: ServicesDep,
                       principal: Clinician) -> DraftOut:
    """Approve (as drafted or edited) or reject (with a reason). The reviewer is the token's user. Final."""
    row = await services.store.review(draft_id, decision=body.decision, reviewer=principal.name,
                                      final_text=body.final_text, reason=body.reason,
                                      acknowledge_block_findings=body.acknowledge_block_findings)
    return DraftOut.from_row(row)


@router.post("/{draft_id}/regenerate", response_model=DraftOut, status_code=status.HTTP_201_CREATED,
             responses=ERRORS)
async def regenerate_draft(draft_id: DraftId, services: ServicesDep, principal: Clinician) -> DraftOut:
    """Draft the same message again (after a failure or a rejection); the old draft is kept."""
    return DraftOut.from_row(await services.pipeline.regenerate(draft_id, actor=principal.name))
