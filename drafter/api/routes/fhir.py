"""FHIR R4 endpoints: a patient's Communication in (drafted in the background), the approved reply out.

Every answer here, errors included, is FHIR JSON: failures come back as OperationOutcome resources with the
FHIR content type, whether they come from the body, the rules, storage or authentication.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from drafter import fhir
from drafter.api.auth import Principal, Role, require
from drafter.api.deps import JobsDep, ServicesDep
from drafter.api.errors import retry_after_header
from drafter.errors import DrafterError, FhirResourceError, NotFoundError

Clinician = Annotated[Principal, Depends(require(Role.CLINICIAN))]
Reader = Annotated[Principal, Depends(require(Role.CLINICIAN, Role.QA))]
ResourceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$", description="The resource's logical id.")]


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """FHIR JSON with the FHIR media type."""
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, headers=headers,
                    media_type=fhir.FHIR_MEDIA_TYPE)


class FhirRoute(APIRoute):
    """Turns every error raised while handling a FHIR request into an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except DrafterError as exc:
                headers = {**(retry_after_header(exc) or {}), **getattr(exc, "headers", {})}
                return fhir_response(fhir.operation_outcome(exc.http_status, exc.message), exc.http_status,
                                     headers or None)
            except RequestValidationError as exc:
                where = [".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()]
                return fhir_response(fhir.operation_outcome(400, "The request is not valid: " + "; ".join(
                    f"{w}: {e.get('msg')}" for w, e in zip(where, exc.errors(), strict=True))), 400)
            except StarletteHTTPException as exc:
                return fhir_response(fhir.operation_outcome(exc.status_code, str(exc.detail)), exc.status_code,
                                     getattr(exc, "headers", None))

        return handle


# Not in /openapi.json: a FHIR server is described by FHIR's own conventions (resource definitions, a
# CapabilityStatement), which an OpenAPI body schema cannot state faithfully; the README and tests/inbox/test_fhir.py
# document these interactions.
router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute, include_in_schema=False)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


@router.post("/Communication", status_code=201, response_class=Response, responses={
    201: {"description": "The stored Communication (its id is the message id); the reply is drafted in the "
                         "background.", "content": {fhir.FHIR_JSON: {}}},
    400: {"description": "Not a valid FHIR R4 Communication (OperationOutcome)."},
    415: {"description": "Not FHIR JSON (OperationOutcome)."},
    422: {"description": "Valid FHIR, but not a patient's message we can draft (OperationOutcome)."}})
async def create_communication(request: Request, services: ServicesDep, jobs: JobsDep,
                               principal: Clinician) -> Response:
    """Accept a patient's Communication: store it as a message and pre-generate the draft reply."""
    media = request.headers.get("content-type", fhir.FHIR_JSON).split(";")[0].strip().lower()
    if media not in (fhir.FHIR_JSON, "application/json"):
        return fhir_response(fhir.operation_outcome(415, f"Send {fhir.FHIR_JSON}, not {media}."), 415)
    try:
        body = json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FhirResourceError(f"The body is not JSON (UTF-8): {type(exc).__name__}.") from None
    draft_request, origin = fhir.to_draft_request(fhir.parse_communication(body))
    message_id, draft_id = await services.pipeline.accept(draft_request, source="fhir", actor=principal.name,
                                                               origin=origin)
    jobs.enqueue(draft_id)
    stored = await services.store.fhir_communication(message_id)
    assert stored is not None
    return fhir_response(stored.resource, 201, {"Location": f"{_base_url(request)}/Communication/{message_id}",
                                                "X-Drafter-Draft-Id": draft_id})


@router.get("/Communication/{resource_id}", response_class=Response, responses={
    200: {"description": "The approved reply (its id is the draft id) or the patient's Communication.",
          "content": {fhir.FHIR_JSON: {}}},
    404: {"description": "No such Communication, or the draft is not approved yet (OperationOutcome)."}})
async def read_communication(resource_id: ResourceId, services: ServicesDep, _: Reader) -> Response:
    """An approved reply by its id (the draft id), or a patient's Communication by its id (the message id)."""
    store = services.store
    try:
        draft = await store.get(resource_id)
    except NotFoundError:
        incoming = await store.fhir_communication(resource_id)
        if incoming is None:
            raise NotFoundError(f"No Communication with id {resource_id}.") from None
        return fhir_response(incoming.resource)
    thread = await store.fhir_communication(draft.message_id)
    if thread is None:
        raise NotFoundError(f"Draft {resource_id} answers a message that did not arrive through FHIR.")
    if draft.review is None or draft.review.final_text is None:
        raise NotFoundError(f"Draft {resource_id} is {draft.status}; only an approved reply is a Communication.")
    return fhir_response(fhir.reply_communication(draft, thread))


@router.get("/Communication", response_class=Response, responses={
    200: {"description": "A searchset Bundle with the approved reply, if there is one yet.",
          "content": {fhir.FHIR_JSON: {}}}})
async def search_communications(
    request: Request, services: ServicesDep, _: Reader,
    in_response_to: Annotated[str | None, Query(alias="in-response-to", max_length=300,
                                                description="Communication/{id} of the patient's message.")] = None,
) -> Response:
    """Search replies by the patient's Communication they answer (`in-response-to`)."""
    if in_response_to is None:
        return fhir_response(fhir.operation_outcome(
            400, "Search by in-response-to=Communication/{id}; no other search is supported.", code="not-supported"),
            400)
    message_id = fhir.communication_id(in_response_to)
    found: list[dict[str, Any]] = []
    if message_id is not None:
        thread = await services.store.fhir_communication(message_id)
        draft = await services.store.approved_reply(message_id) if thread is not None else None
        if thread is not None and draft is not None:
            found.append(fhir.reply_communication(draft, thread))
    return fhir_response(fhir.searchset(found, base_url=_base_url(request)))
