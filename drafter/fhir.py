"""FHIR R4 Communication in and out: the adapter between a portal that speaks FHIR and the drafting pipeline.

Resources are validated with fhir.resources' R4B (4.3.0) models: the library ships no 4.0.1 package, and R4B's
Communication has exactly R4's elements, so an R4 Communication validates unchanged. We add the rules a
patient's message needs on top (subject is a Patient, there is text to answer, the status is a real one).
Knows nothing of HTTP or SQL beyond the stored rows it is handed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError

from drafter.domain import DraftRequest
from drafter.errors import FhirResourceError, InputError
from drafter.storage.models import Draft, FhirCommunication
from drafter.storage.repository import FhirOrigin

FHIR_JSON = "application/fhir+json"
FHIR_MEDIA_TYPE = f"{FHIR_JSON}; fhirVersion=4.0"

# R4 EventStatus; a message "entered in error" is not one to answer.
EVENT_STATUSES = frozenset({"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                            "entered-in-error", "unknown"})
_PATIENT_REF = re.compile(r"(?:^|/)Patient/[A-Za-z0-9\-.]{1,64}$")
_SENDER_REF = re.compile(r"(?:^|/)(?:Patient|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$")
_COMMUNICATION_REF = re.compile(r"^(?:.*/)?(?:Communication/)?([A-Za-z0-9\-.]{1,64})$")

# HTTP status -> OperationOutcome issue type (http://hl7.org/fhir/R4/valueset-issue-type.html).
_ISSUE_TYPES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                409: "conflict", 413: "too-long", 415: "not-supported", 422: "processing", 429: "throttled",
                502: "transient", 503: "transient", 504: "timeout"}


def _problems(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in err['loc']) or 'Communication'}: {err['msg'].rstrip('.')}"
            for err in exc.errors()[:10]]


def parse_communication(body: Any) -> Communication:
    """A structurally valid R4 Communication, or FhirResourceError (HTTP 400) listing what is wrong."""
    if not isinstance(body, dict) or body.get("resourceType") != "Communication":
        raise FhirResourceError("The body must be a FHIR Communication resource (resourceType \"Communication\").")
    try:
        return Communication.model_validate(body)
    except ValidationError as exc:
        problems = _problems(exc)
        raise FhirResourceError("The Communication is not valid FHIR R4: " + "; ".join(problems[:3]) + ".",
                                details={"problems": problems}) from None


def to_draft_request(resource: Communication) -> tuple[DraftRequest, FhirOrigin]:
    """The draft request a patient's Communication asks for, and what to keep to answer in the same thread."""
    status = str(resource.status)
    if status not in EVENT_STATUSES:
        raise InputError(f"Communication.status '{status}' is not an R4 EventStatus; a sent message is 'completed'.")
    if status == "entered-in-error":
        raise InputError("This Communication is marked entered-in-error; there is nothing to answer.")
    subject = resource.subject.reference if resource.subject is not None else None
    if not subject or not _PATIENT_REF.search(subject):
        raise InputError("Communication.subject must reference the patient (e.g. {\"reference\": \"Patient/123\"}).")
    sender = resource.sender.reference if resource.sender is not None else None
    if sender and not _SENDER_REF.search(sender):
        raise InputError("Communication.sender must be the patient or a RelatedPerson writing for them; "
                         f"'{sender.split('/')[-2] if '/' in sender else sender}' messages are not drafted.")
    texts = [p.contentString.strip() for p in resource.payload or [] if p.contentString and p.contentString.strip()]
    if not texts:
        raise InputError("Communication.payload has no contentString: send the patient's message as text "
                         "(attachments and references are not drafted).")
    clinician = next((r.display for r in resource.recipient or []
                      if r.display and (r.reference or "").split("/")[-2:-1] == ["Practitioner"]), None)
    try:
        request = DraftRequest.model_validate({
            "message": {"text": "\n\n".join(texts),
                        "subject": resource.topic.text if resource.topic is not None else None,
                        "sent_at": resource.sent, "language": resource.language},
            "patient": {"name": resource.subject.display if resource.subject is not None else None},
            "clinician": {"name": clinician},
        })
    except ValidationError as exc:
        problems = _problems(exc)
        raise InputError("The Communication cannot be drafted: " + "; ".join(problems[:3]) + ".",
                         details={"problems": problems}) from None
    origin = FhirOrigin(resource=resource.model_dump(mode="json", exclude_none=True), subject=subject,
                        sender=sender)
    return request, origin


def communication_id(reference: str) -> str | None:
    """The logical id in an in-response-to value ('Communication/abc', a full URL, or the bare id)."""
    match = _COMMUNICATION_REF.match(reference.strip())
    return match.group(1) if match else None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def reply_communication(draft: Draft, thread: FhirCommunication) -> dict[str, Any]:
    """The approved reply as an R4 Communication: the clinician's final text, to the patient, in the thread."""
    review = draft.review
    if review is None or review.final_text is None:
        raise ValueError("only an approved draft is a reply")
    incoming = thread.resource
    reply: dict[str, Any] = {
        "resourceType": "Communication",
        "id": draft.id,
        "meta": {"lastUpdated": _utc(review.created_at).isoformat()},
        "inResponseTo": [{"reference": f"Communication/{thread.message_id}"}],
        "status": "completed",
        "subject": incoming.get("subject", {"reference": thread.subject}),
        "recipient": [incoming.get("sender", incoming.get("subject", {"reference": thread.subject}))],
        "sender": {"display": review.reviewer},  # the approving clinician (from their token)
        "sent": _utc(review.created_at).isoformat(),
        "payload": [{"contentString": review.final_text}],
    }
    for key in ("topic", "category", "encounter"):
        if key in incoming:
            reply[key] = incoming[key]
    # Built as a dict for readability, checked by the same model the input goes through.
    return Communication.model_validate(reply).model_dump(mode="json", exclude_none=True)


def searchset(resources: list[dict[str, Any]], *, base_url: str) -> dict[str, Any]:
    """A searchset Bundle of Communications."""
    bundle = {
        "resourceType": "Bundle", "type": "searchset", "total": len(resources),
        "entry": [{"fullUrl": f"{base_url}/Communication/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in resources],
    }
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)


def operation_outcome(status: int, diagnostics: str, *, code: str | None = None,
                      expression: list[str] | None = None) -> dict[str, Any]:
    """An OperationOutcome for an HTTP error status."""
    issue: dict[str, Any] = {"severity": "error", "code": code or _ISSUE_TYPES.get(status, "exception"),
                             "diagnostics": diagnostics}
    if expression:
        issue["expression"] = expression
    outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
    return OperationOutcome.model_validate(outcome).model_dump(mode="json", exclude_none=True)
