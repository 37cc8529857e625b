"""FHIR R4 Communication in and out, with resources written after the R4 specification's Communication examples.

In: a patient's portal message (and the spec's own device-alert example, which is not a patient's message).
Out: the approved reply as a Communication in the same thread; every error an OperationOutcome.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.conftest import GOOD_REPLY, FakeLLM

FHIR = {"content-type": "application/fhir+json", "accept": "application/fhir+json"}

# A patient writing to their care team through the portal, shaped like the R4 examples
# (http://hl7.org/fhir/R4/communication-examples.html): identifier, category, medium, subject, recipient,
# sender, sent, payload; topic gives the portal's subject line.
PATIENT_MESSAGE: dict[str, Any] = {
    "resourceType": "Communication",
    "id": "portal-msg-8812",
    "identifier": [{"system": "urn:oid:1.3.6.1.4.1.21367.2005.3.7", "value": "PM-2024-8812"}],
    "status": "completed",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/communication-category",
                              "code": "notification"}], "text": "Patient message"}],
    "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                            "code": "WRITTEN", "display": "written"}], "text": "portal"}],
    "subject": {"reference": "Patient/example", "display": "Peter James Chalmers"},
    "topic": {"text": "Rash after new antibiotic"},
    "sent": "2024-03-04T08:15:00-05:00",
    "recipient": [{"reference": "Practitioner/f001", "display": "Dr. Eve Everywoman"}],
    "sender": {"reference": "Patient/example", "display": "Peter James Chalmers"},
    "payload": [{"contentString": "I started the amoxicillin on Saturday and now I have an itchy rash on my arms. "
                                  "Should I keep taking it?"}],
}

# The R4 spec's own Communication/example: a lab alert from a paging device, not a patient's message.
SPEC_DEVICE_ALERT: dict[str, Any] = {
    "resourceType": "Communication",
    "id": "example",
    "identifier": [{"type": {"text": "Paging System"}, "system": "urn:oid:1.3.4.5.6.7", "value": "2345678901"}],
    "instantiatesUri": ["http://example.org/hyperkalemia"],
    "status": "completed",
    "category": [{"coding": [{"system": "http://acme.org/messagetypes", "code": "Alert"}], "text": "Alert"}],
    "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                            "code": "WRITTEN", "display": "written"}], "text": "written"}],
    "subject": {"reference": "Patient/example"},
    "encounter": {"reference": "Encounter/example"},
    "sent": "2014-12-12T18:01:10-08:00",
    "received": "2014-12-12T18:01:11-08:00",
    "recipient": [{"reference": "Practitioner/example"}],
    "sender": {"reference": "Device/f001"},
    "payload": [{"contentString": "Patient 1 has a very high serum potassium value (7.2 mmol/L on 2014-Dec-12 at "
                                  "5:55 pm)"},
                {"contentReference": {"reference": "Observation/example"}}],
}


def variant(**changes: Any) -> dict[str, Any]:
    resource = copy.deepcopy(PATIENT_MESSAGE)
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resource


def wait_written(client: TestClient, draft_id: str) -> dict[str, Any]:
    for _ in range(500):
        draft: dict[str, Any] = client.get(f"/v1/drafts/{draft_id}").json()
        if draft["status"] not in {"queued", "generating"}:
            return draft
        time.sleep(0.02)
    raise AssertionError("the draft was not written")


def post(client: TestClient, resource: Any, headers: dict[str, str] = FHIR) -> Any:
    return client.post("/fhir/Communication", json=resource, headers=headers)


def test_round_trip_patient_message_in_approved_reply_out(client: TestClient, fake_llm: FakeLLM) -> None:
    fake_llm.default = GOOD_REPLY
    r = post(client, PATIENT_MESSAGE)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    stored = r.json()
    message_id, draft_id = stored["id"], r.headers["x-drafter-draft-id"]
    assert stored["id"] != PATIENT_MESSAGE["id"]  # the server assigns ids on create
    assert r.headers["location"].endswith(f"/fhir/Communication/{message_id}")
    assert client.get(f"/fhir/Communication/{message_id}").json() == stored
    Communication.model_validate(stored)

    draft = wait_written(client, draft_id)
    assert draft["message"]["text"] == PATIENT_MESSAGE["payload"][0]["contentString"]
    assert draft["message"]["subject"] == "Rash after new antibiotic"
    assert draft["message"]["source"] == "fhir"
    assert draft["message"]["sent_at"] == "2024-03-04T13:15:00Z"

    # nothing to give back before a clinician approves
    search = client.get("/fhir/Communication", params={"in-response-to": f"Communication/{message_id}"})
    assert search.status_code == 200
    assert search.json() == {"resourceType": "Bundle", "type": "searchset", "total": 0}
    assert client.get(f"/fhir/Communication/{draft_id}").status_code == 404

    final = "Thank you for letting us know about the rash. Please stop the amoxicillin until we call you today."
    reviewed = client.post(f"/v1/drafts/{draft_id}/review",
                           json={"decision": "approve", "final_text": final, "acknowledge_block_findings": True})
    assert reviewed.status_code == 200, reviewed.text

    bundle = client.get("/fhir/Communication", params={"in-response-to": f"Communication/{message_id}"}).json()
    Bundle.model_validate(bundle)
    assert bundle["total"] == 1
    reply = bundle["entry"][0]["resource"]
    assert bundle["entry"][0]["fullUrl"].endswith(f"/fhir/Communication/{draft_id}")
    Communication.model_validate(reply)
    assert reply["id"] == draft_id
    assert reply["status"] == "completed"
    assert reply["inResponseTo"] == [{"reference": f"Communication/{message_id}"}]
    assert reply["payload"] == [{"contentString": final}]
    assert reply["sender"] == {"display": "test-clinician"}  # the approving clinician, from the token
    assert reply["subject"] == PATIENT_MESSAGE["subject"]
    assert reply["recipient"] == [PATIENT_MESSAGE["sender"]]
    assert reply["topic"] == PATIENT_MESSAGE["topic"]
    assert reply["sent"] == reviewed.json()["review"]["created_at"]
    assert client.get(f"/fhir/Communication/{draft_id}").json() == reply
    # the full URL form and the bare id find it too
    for ref in (f"http://testserver/fhir/Communication/{message_id}", message_id):
        assert client.get("/fhir/Communication", params={"in-response-to": ref}).json()["total"] == 1


@pytest.mark.parametrize(("resource", "status", "issue_code", "says"), [
    ("not json", 400, "invalid", "not JSON"),
    ({"resourceType": "Patient", "id": "example"}, 400, "invalid", "Communication resource"),
    (variant(status=None), 400, "invalid", "status"),
    (variant(payload=[{"contentString": 42}]), 400, "invalid", "payload"),
    (variant(unknownElement=True), 400, "invalid", "unknownElement"),
    (variant(sent="last Tuesday"), 400, "invalid", "sent"),
    (variant(status="sent"), 422, "processing", "EventStatus"),
    (variant(status="entered-in-error"), 422, "processing", "entered-in-error"),
    (variant(subject={"reference": "Group/103"}), 422, "processing", "subject"),
    (variant(subject=None), 422, "processing", "subject"),
    (SPEC_DEVICE_ALERT, 422, "processing", "Device"),
    (variant(sender={"reference": "Practitioner/f001"}), 422, "processing", "Practitioner"),
    (variant(payload=[{"contentAttachment": {"contentType": "image/jpeg", "url": "http://x.org/rash.jpg"}}]),
     422, "processing", "contentString"),
    (variant(payload=[{"contentString": "   "}]), 422, "processing", "contentString"),
    (variant(payload=[{"contentString": "x" * 20_001}]), 413, "too-long", "limit"),
])
def test_errors_are_operation_outcomes(client: TestClient, fake_llm: FakeLLM, resource: Any, status: int,
                                       issue_code: str, says: str) -> None:
    if isinstance(resource, str):
        r = client.post("/fhir/Communication", content=resource, headers=FHIR)
    else:
        r = post(client, resource)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    outcome = r.json()
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["severity"] == "error"
    assert outcome["issue"][0]["code"] == issue_code
    assert says in outcome["issue"][0]["diagnostics"]
    assert fake_llm.requests == []
    assert client.get("/v1/drafts", params={"status": "queued"}).json()["items"] == []  # nothing stored


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "issue_code"), [
    ("POST", "/fhir/Communication", {"content": b"x", "headers": {"content-type": "text/plain"}}, 415,
     "not-supported"),
    ("GET", "/fhir/Communication/unknown-id", {}, 404, "not-found"),
    ("GET", "/fhir/Communication/bad$id", {}, 400, "invalid"),
    ("GET", "/fhir/Communication", {}, 400, "not-supported"),
])
def test_other_errors_are_operation_outcomes(client: TestClient, method: str, path: str, kwargs: dict[str, Any],
                                             status: int, issue_code: str) -> None:
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.json()["resourceType"] == "OperationOutcome"
    assert r.json()["issue"][0]["code"] == issue_code


def test_without_a_token_the_answer_is_an_operation_outcome(anon_client: TestClient) -> None:
    r = anon_client.post("/fhir/Communication", json=PATIENT_MESSAGE, headers=FHIR)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["issue"][0]["code"] == "login"


def test_a_message_in_a_thread_keeps_its_in_response_to(client: TestClient, fake_llm: FakeLLM) -> None:
    """A patient answering our reply: the new Communication points at it and is drafted like any other."""
    fake_llm.default = GOOD_REPLY
    follow_up = variant(inResponseTo=[{"reference": "Communication/1b7e3f0e-reply"}],
                        payload=[{"contentString": "Thanks. The rash is spreading to my chest now."}])
    r = post(client, follow_up)
    assert r.status_code == 201, r.text
    assert r.json()["inResponseTo"] == follow_up["inResponseTo"]
    assert wait_written(client, r.headers["x-drafter-draft-id"])["status"] == "pending_review"


def test_a_rejected_draft_is_no_reply(client: TestClient, fake_llm: FakeLLM) -> None:
    fake_llm.default = GOOD_REPLY
    r = post(client, PATIENT_MESSAGE)
    message_id, draft_id = r.json()["id"], r.headers["x-drafter-draft-id"]
    wait_written(client, draft_id)
    client.post(f"/v1/drafts/{draft_id}/review", json={"decision": "reject", "reason": "too vague"})
    assert client.get("/fhir/Communication", params={"in-response-to": message_id}).json()["total"] == 0
    assert "rejected" in client.get(f"/fhir/Communication/{draft_id}").json()["issue"][0]["diagnostics"]
