"""Faults at the LLM endpoint, through the real API and the openai backend pointed at the loopback fake server.

Every request ends as a stored draft (the model's, or the template-only fallback labelled as not AI-written), or
as a stored message with a failed draft and a clear error; never a trace. Retries follow the policy: the fake
server counts the requests it saw.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from drafter.api.app import create_app
from drafter.identity import Role
from drafter.pipeline import FALLBACK_MODEL
from drafter.settings import Settings
from drafter.testing.fake_openai import DEFAULT_REPLY, FakeOpenAIServer, Fault

ATTEMPTS = 3
HEADACHE = {"message": {"text": "My headache has been back every day since Monday and ibuprofen does not help."}}

# fault -> (requests the endpoint sees: streamed / not streamed, error code, HTTP status without fallback)
FAULTS: dict[Fault, tuple[int, int, str, int]] = {
    Fault.RATE_LIMITED: (ATTEMPTS, ATTEMPTS, "llm_unavailable", 503),
    Fault.SERVER_ERROR: (ATTEMPTS, ATTEMPTS, "llm_unavailable", 503),
    Fault.UNAVAILABLE: (ATTEMPTS, ATTEMPTS, "llm_unavailable", 503),
    Fault.HANG: (ATTEMPTS, ATTEMPTS, "llm_timeout", 504),
    # Not streamed, the connection drops before any byte and is retried; streamed, it drops after text was sent,
    # and only opening a stream is retried.
    Fault.DROP_STREAM: (1, ATTEMPTS, "llm_unavailable", 503),
    Fault.INVALID_JSON: (1, 1, "llm_bad_response", 502),
    Fault.EMPTY_CHOICES: (1, 1, "llm_bad_response", 502),
    Fault.ENORMOUS: (1, 1, "llm_bad_response", 502),
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(retry_after_s=0.05, hang_s=30) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset(server: FakeOpenAIServer) -> None:
    server.state.faults.clear()
    server.set_default_fault(None)
    server.state.latency_s = 0.0


@contextmanager
def app_client(settings: Settings) -> Iterator[TestClient]:
    """The real app on these settings, with a clinician's bearer token."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        accounts = client.app.state.authenticator.accounts  # type: ignore[attr-defined]
        assert client.portal is not None
        _, token = client.portal.call(partial(accounts.create_user, "faults-clinician", Role.CLINICIAN,
                                              actor="tests"))
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def fault_settings(tmp_path: Path, server: FakeOpenAIServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/faults.db", "llm_base_url": server.base_url, "llm_api_key": "k",
        "llm_timeout_s": 0.5, "llm_max_attempts": ATTEMPTS, "llm_retry_initial_wait_s": 0.01,
        "llm_retry_max_wait_s": 0.05, "llm_retry_budget_s": 20, "llm_max_response_bytes": 65_536,
        "llm_breaker_threshold": 1000, "after_hours_phone": "555-0100", "practice_name": "Test Clinic",
    }
    return Settings(**(values | overrides))


Answer = tuple[int, dict[str, str], list[tuple[str, Any]]]


def post(client: TestClient, body: dict[str, Any], *, stream: bool) -> Answer:
    """Status, headers and the answer as (kind, data) events: SSE events, or one ('json', body)."""
    r = client.post("/v1/drafts", params={"stream": str(stream).lower()}, json=body)
    assert "Traceback" not in r.text
    if not r.headers["content-type"].startswith("text/event-stream"):
        return r.status_code, dict(r.headers), [("json", r.json())]
    events = []
    for block in r.text.strip().split("\n\n"):
        head, data = block.split("\n", 1)
        events.append((head.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return r.status_code, dict(r.headers), events


def stored_drafts(client: TestClient) -> list[dict[str, Any]]:
    return list(client.get("/v1/drafts", params={"limit": 200}).json()["items"])


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fault", list(FAULTS), ids=[f.name.lower() for f in FAULTS])
def test_a_persistent_fault_ends_in_a_failed_draft_with_a_clear_error(
        tmp_path: Path, server: FakeOpenAIServer, fault: Fault, stream: bool) -> None:
    streamed_requests, plain_requests, code, status = FAULTS[fault]
    server.set_default_fault(fault)
    with app_client(fault_settings(tmp_path, server, llm_fallback=False)) as client:
        before = server.requests
        got, headers, events = post(client, HEADACHE, stream=stream)
        assert server.requests - before == (streamed_requests if stream else plain_requests)
        kind, data = events[-1]
        if kind == "json":  # failed before any text: the error status, with Retry-After for a 5xx
            assert got == status
            error = data["error"]
            assert int(headers["retry-after"]) >= 1
        else:  # failed after text was streamed: the stream ends with an error event
            assert (got, kind) == (201, "error")
            error = data
        assert error["code"] == code and error["message"]
        draft = client.get(f"/v1/drafts/{error['details']['draft_id']}").json()
    assert draft["status"] == "failed"
    assert draft["text"] is None  # nothing half-written is kept
    assert draft["error"]["code"] == code
    assert draft["message"]["text"] == HEADACHE["message"]["text"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fault", list(FAULTS), ids=[f.name.lower() for f in FAULTS])
def test_with_the_fallback_a_fault_ends_in_a_labelled_template_draft(
        tmp_path: Path, server: FakeOpenAIServer, fault: Fault, stream: bool) -> None:
    streamed_requests, plain_requests, code, _ = FAULTS[fault]
    server.set_default_fault(fault)
    with app_client(fault_settings(tmp_path, server, llm_fallback=True)) as client:
        before = server.requests
        got, _, events = post(client, HEADACHE, stream=stream)
        assert server.requests - before == (streamed_requests if stream else plain_requests)
        assert got == 201
        kind, draft = events[-1]
        assert kind in ("json", "draft")
        assert [e[1]["id"] for e in events if e[0] == "draft"] in ([], [draft["id"]])
        assert client.get(f"/v1/drafts/{draft['id']}").json() == draft
    assert draft["model"] == FALLBACK_MODEL
    assert draft["status"] in ("pending_review", "needs_clinician")
    assert draft["error"]["code"] == code  # the model's failure stays visible on the draft
    assert draft["findings"][0]["check"] == "fallback"
    assert "Not written by AI" in draft["findings"][0]["message"]
    assert draft["text"].startswith("Thank you for your message")
    assert len(draft["text"]) < 2_000  # bounded, whatever the endpoint sent


@pytest.mark.parametrize("fault", [Fault.RATE_LIMITED, Fault.SERVER_ERROR, Fault.HANG, Fault.DROP_STREAM])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_transient_fault_is_retried_into_the_models_draft(tmp_path: Path, server: FakeOpenAIServer,
                                                             fault: Fault, stream: bool) -> None:
    if stream and fault is Fault.DROP_STREAM:
        pytest.skip("a stream that drops after sending text is not retried (see the persistent-fault table)")
    server.enqueue(fault)
    with app_client(fault_settings(tmp_path, server)) as client:
        before = server.requests
        got, _, events = post(client, HEADACHE, stream=stream)
    assert got == 201
    assert server.requests - before == 2
    draft = events[-1][1]
    assert draft["model"] == "fake-model" and draft["error"] is None
    assert draft["attempts"] == 2
    assert draft["text"].startswith(DEFAULT_REPLY[:40])


@pytest.mark.parametrize(
    ("text", "language", "must_contain"),
    [
        ("I have crushing chest pain and my left arm is numb right now", "en",
         ["call 911 or go to the nearest emergency room now"]),
        ("I don't want to live anymore, I keep thinking about ending it", "en", ["988", "911"]),
        ("Tengo un dolor de pecho muy fuerte y no puedo respirar", "es", ["llame al 911", "emergencias"]),
        ("Hola, necesito una nueva receta para mi medicamento de la presión", "es", ["Gracias por su mensaje"]),
        ("I've had a fever of 102 for three days and it is getting worse", "en", ["555-0100"]),
    ],
)
def test_the_fallback_speaks_the_patients_language_and_carries_emergency_guidance(
        tmp_path: Path, server: FakeOpenAIServer, text: str, language: str, must_contain: list[str]) -> None:
    server.set_default_fault(Fault.UNAVAILABLE)
    with app_client(fault_settings(tmp_path, server, llm_max_attempts=1)) as client:
        got, _, events = post(client, {"message": {"text": text}}, stream=False)
    draft = events[0][1]
    assert got == 201 and draft["model"] == FALLBACK_MODEL
    for phrase in must_contain:
        assert phrase in draft["text"]
    assert ("Gracias" in draft["text"]) == (language == "es")
    # The template itself carries the guidance: the policy never had to insert it.
    assert not [f for f in draft["findings"] if f["check"] == "emergency_guidance"]
    assert draft["text"].endswith("[CLINICIAN_NAME]")


@pytest.mark.parametrize("fallback", [False, True], ids=["no_fallback", "fallback"])
def test_the_breaker_fails_fast_reports_on_readyz_and_recovers(tmp_path: Path, server: FakeOpenAIServer,
                                                               fallback: bool) -> None:
    server.set_default_fault(Fault.SERVER_ERROR)
    settings = fault_settings(tmp_path, server, llm_max_attempts=1, llm_breaker_threshold=2,
                              llm_breaker_cooldown_s=1.0, llm_fallback=fallback)
    with app_client(settings) as client:
        for _ in range(2):
            post(client, HEADACHE, stream=False)
        assert server.requests > 0
        before = server.requests
        got, headers, events = post(client, HEADACHE, stream=False)
        assert server.requests == before  # failed fast: the endpoint was not called
        body = events[0][1]
        if fallback:
            assert (got, body["model"], body["error"]["code"]) == (201, FALLBACK_MODEL, "llm_circuit_open")
        else:
            assert (got, body["error"]["code"]) == (503, "llm_circuit_open")
            assert headers["retry-after"] == "1"  # the rest of the one-second cool-down, rounded up
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["llm"].startswith("circuit open")
        server.set_default_fault(None)
        time.sleep(1.1)  # the cool-down passes: one trial call goes through and closes the circuit
        got, _, events = post(client, HEADACHE, stream=True)
        assert got == 201 and events[-1][1]["model"] == "fake-model"
        assert server.requests == before + 1
        assert client.get("/readyz").json()["checks"]["llm"] == "ok"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_full_llm_queue_answers_503_and_keeps_the_message(tmp_path: Path, server: FakeOpenAIServer,
                                                             stream: bool) -> None:
    server.state.latency_s = 1.0
    settings = fault_settings(tmp_path, server, llm_timeout_s=5, llm_max_concurrency=1, llm_max_queue=0,
                              llm_fallback=True)  # load shedding is not a model failure: no fallback draft
    with app_client(settings) as client:
        before = server.requests
        first: list[int] = []
        holder = threading.Thread(target=lambda: first.append(post(client, HEADACHE, stream=False)[0]))
        holder.start()
        deadline = time.monotonic() + 5
        while server.requests == before and time.monotonic() < deadline:  # the first call holds the only slot
            time.sleep(0.01)
        got, headers, events = post(client, {"message": {"text": "Second message while the first is drafted."}},
                                    stream=stream)
        holder.join()
        assert first == [201]
        assert got == 503
        error = events[0][1]["error"]
        assert error["code"] == "llm_busy" and "message was stored" in error["message"]
        assert int(headers["retry-after"]) >= 1
        busy = client.get(f"/v1/drafts/{error['details']['draft_id']}").json()
        assert busy["status"] == "failed" and busy["error"]["code"] == "llm_busy"
        assert busy["message"]["text"] == "Second message while the first is drafted."
        server.state.latency_s = 0.0
        again = client.post(f"/v1/drafts/{busy['id']}/regenerate")
        assert again.status_code == 201 and again.json()["model"] == "fake-model"
    assert server.requests - before == 2


def test_every_fault_leaves_every_message_stored(tmp_path: Path, server: FakeOpenAIServer) -> None:
    """One app, all faults in a row (breaker on its defaults): one stored message and one draft per request."""
    with app_client(fault_settings(tmp_path, server, llm_breaker_threshold=5)) as client:
        sent = 0
        for fault in FAULTS:
            for stream in (False, True):
                server.set_default_fault(fault)
                got, _, _ = post(client, {"message": {"text": f"Message {sent}: my headache is back."}},
                                 stream=stream)
                assert got == 201
                sent += 1
        drafts = stored_drafts(client)
    assert sorted(d["message"]["text"] for d in drafts) == sorted(f"Message {i}: my headache is back."
                                                                  for i in range(sent))
    assert all(d["status"] != "generating" for d in drafts)
