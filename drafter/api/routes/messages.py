"""Pre-generated drafts: accept a message now, draft it in the background, follow the draft as it is written."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, status
from fastapi.responses import StreamingResponse

from drafter.api.auth import Principal, Role, require
from drafter.api.deps import JobsDep, ProgressDep, ServicesDep
from drafter.api.schemas import DraftOut, ErrorBody
from drafter.domain import DraftRequest, DraftStatus

router = APIRouter(tags=["inbox"])

DraftId = Annotated[str, Path(min_length=1, max_length=64, description="The draft id returned at creation.")]
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 413, 422, 429, 503)}
Clinician = Annotated[Principal, Depends(require(Role.CLINICIAN))]
Reader = Annotated[Principal, Depends(require(Role.CLINICIAN, Role.QA))]
WAITING = frozenset({DraftStatus.QUEUED, DraftStatus.GENERATING})
POLL_S = 1.0  # how often a follower re-reads the draft when no tokens arrive (e.g. written by another process)
MAX_FOLLOW_S = 600.0  # a page following longer than this reconnects


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


@router.post("/v1/messages", response_model=DraftOut, status_code=status.HTTP_202_ACCEPTED, responses=ERRORS)
async def create_message(body: DraftRequest, services: ServicesDep, jobs: JobsDep, principal: Clinician) -> DraftOut:
    """Store a patient message and draft its reply in the background; the answer is the queued draft.

    The message is triaged at once, so it takes its place in the inbox (emergencies first) before the draft is
    written. Follow it with `GET /v1/drafts/{id}/events` or read it with `GET /v1/drafts/{id}`.
    """
    _, draft_id = await services.pipeline.accept(body, source="api", actor=principal.name)
    jobs.enqueue(draft_id)
    return DraftOut.from_row(await services.store.get(draft_id))


@router.get("/v1/drafts/{draft_id}/events", responses={
    **ERRORS, 200: {"description": "Server-sent events: `status`, then `text` (all so far) and `token` (more) while "
                                   "the draft is written, then one `draft` (the stored draft) or `timeout`.",
                    "content": {"text/event-stream": {}}}})
async def follow_draft(draft_id: DraftId, services: ServicesDep, progress: ProgressDep,
                       _: Reader) -> StreamingResponse:
    """Follow a draft until it is stored: its text streams in while a worker in this process writes it."""
    store = services.store
    first = await store.get(draft_id)  # 404 as JSON before the stream opens

    async def events() -> AsyncIterator[str]:
        row, deadline, last_status = first, time.monotonic() + MAX_FOLLOW_S, None
        while time.monotonic() < deadline:
            if DraftStatus(row.status) not in WAITING:
                yield _sse("draft", DraftOut.from_row(row).model_dump(mode="json"))
                return
            if row.status != last_status:
                last_status = row.status
                yield _sse("status", {"status": row.status})
            followed = False
            async for piece in progress.follow(draft_id, idle_s=POLL_S):
                followed = True
                if piece is not None:
                    yield _sse(piece[0], {"text": piece[1]})
                elif DraftStatus((await store.get(draft_id)).status) not in WAITING:
                    break
            if not followed:
                await asyncio.sleep(POLL_S)
            row = await store.get(draft_id)
        yield _sse("timeout", {"message": "Still being written; reconnect to keep following."})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
