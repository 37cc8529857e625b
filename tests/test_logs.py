"""Logs carry no PHI: a message full of known identifiers goes through the real server at DEBUG, and none of it
appears in any log line (ours, uvicorn's, sqlalchemy's, httpx's, openai's), not even in failed drafts' tracebacks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from drafter.api.app import create_app
from drafter.identity import Role
from drafter.llm.base import LLMRequest
from drafter.logs import JsonFormatter, clean_request_id, configure_logging, request_id
from drafter.settings import Settings
from drafter.testing.fake_openai import FakeOpenAIServer, Fault
from tests.conftest import FakeLLM
from tests.live import make_token, serving

NAME, DOB, MRN = "Marisol Quintanilla-Vebber", "03/14/1962", "MRN-48213377"
PHONE, EMAIL, ADDRESS = "(617) 555-0199", "marisol.qv@example.org", "742 Evergreen Terrace, Springfield"
MESSAGE = (f"Hi, this is {NAME} (DOB {DOB}, {MRN}). My left knee has been throbbing since the lawnmower accident. "
           f"Call me at {PHONE} or write to {EMAIL}; I live at {ADDRESS}.")
REPLY = (f"Dear {NAME}, thank you for telling us about your knee. We will call {PHONE} today about a "
         "zebra-striped recovery plan. Please write back with any questions.\n[CLINICIAN_NAME]")
NEEDLES = [NAME, "Quintanilla", "Marisol", DOB, "1962", MRN, "48213377", PHONE, "555-0199", EMAIL, "Evergreen",
           "lawnmower", "throbbing", "zebra-striped"]
PATIENT = {"name": NAME, "date_of_birth": DOB, "mrn": MRN, "phone": PHONE, "email": EMAIL, "address": ADDRESS}


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every logger at DEBUG into one JSON stream, as `drafter serve` configures it; restored afterwards."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = {n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers), logging.getLogger(n).propagate)
             for n in names}
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    yield stream
    for n, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(n)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


class ExplodingLLM(FakeLLM):
    """A backend bug whose exception message quotes the prompt (as careless code might)."""

    async def complete(self, request: LLMRequest) -> Any:
        raise RuntimeError(f"exploded while handling {request.messages[-1].content}")


def test_no_phi_reaches_any_log_at_debug(captured: io.StringIO, tmp_path: Path) -> None:
    with FakeOpenAIServer(reply=REPLY) as llm_server:
        configure_logging("DEBUG", captured)  # the fake server's uvicorn config replaced ours: take it back
        settings = Settings(database_url=f"sqlite:///{tmp_path}/phi.db", llm_base_url=llm_server.base_url,
                            llm_api_key="k", llm_max_attempts=1, database_echo=True, log_level="DEBUG")
        token = make_token(settings, "dr.logs", Role.CLINICIAN)
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "phi-test-1"}
        body = {"message": {"text": MESSAGE, "subject": f"knee - {NAME}"}, "patient": PATIENT}
        with serving(create_app(settings), access_log=True) as base, httpx.Client(base_url=base, timeout=30) as http:
            ok = http.post("/v1/drafts", json=body, headers=headers)
            assert ok.status_code == 201, ok.text
            assert ok.headers["x-request-id"] == "phi-test-1"
            assert http.get(f"/v1/drafts/{ok.json()['id']}", headers=headers).json()["message"]["text"] == MESSAGE
            reviewed = http.post(f"/v1/drafts/{ok.json()['id']}/review", headers=headers,
                                 json={"decision": "approve", "final_text": f"{REPLY} {NAME}"})
            assert reviewed.status_code == 200, reviewed.text
            for fault, status in ((Fault.SERVER_ERROR, 503), (Fault.INVALID_JSON, 502)):
                llm_server.enqueue(fault)
                assert http.post("/v1/drafts", json=body, headers=headers).status_code == status
            assert http.post("/v1/drafts", json={**body, "extra": MESSAGE}, headers=headers).status_code == 422
            assert http.post("/v1/drafts", json=body, headers={"Authorization": f"Bearer {MRN}"}).status_code == 401

    with serving(create_app(settings, llm=ExplodingLLM())) as base, httpx.Client(base_url=base, timeout=30) as http:
        crashed = http.post("/v1/drafts", json=body, headers=headers)
        assert crashed.status_code == 500 and NAME not in crashed.text

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    text = captured.getvalue().lower()
    leaked = [needle for needle in NEEDLES if needle.lower() in text]
    assert not leaked, f"PHI in logs: {leaked}"
    loggers = {line["logger"].split(".")[0] for line in lines}
    assert {"drafter", "uvicorn", "sqlalchemy", "httpx", "openai"} <= loggers, loggers  # the test saw them all
    assert any(line.get("exc_type") == "RuntimeError" and line.get("exc_frames") for line in lines)
    assert any(line.get("request_id") == "phi-test-1" and line["msg"] == "request" for line in lines)


@pytest.mark.parametrize(
    ("msg", "args", "extra", "expected", "absent"),
    [
        ("draft for %s stored", (NAME,), {}, {"msg": "draft for %s stored"}, NAME),
        ("request", (), {"draft_id": "d-1", "status": 201}, {"draft_id": "d-1", "status": 201}, None),
        ("request", (), {"patient_name": NAME}, {"msg": "request"}, NAME),  # not an allowed field
        ("request", (), {"reason": NAME * 20}, {"msg": "request"}, "Marisol"),  # too long to be a code
        ({"text": MESSAGE}, (), {}, {"msg": "dict"}, "lawnmower"),
    ],
)
def test_formatter_keeps_templates_and_safe_fields_only(msg: Any, args: tuple[Any, ...], extra: dict[str, Any],
                                                         expected: dict[str, Any], absent: str | None) -> None:
    record = logging.getLogger("drafter.test").makeRecord("drafter.test", logging.INFO, __file__, 1, msg, args,
                                                          None, extra=extra)
    line = JsonFormatter().format(record)
    assert json.loads(line).items() >= expected.items()
    if absent:
        assert absent not in line


def test_exceptions_are_logged_as_type_and_frames_without_their_message() -> None:
    try:
        raise ValueError(f"bad input {MESSAGE}")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    out = json.loads(JsonFormatter().format(record))
    assert out["exc_type"] == "ValueError"
    assert any("test_logs.py" in frame for frame in out["exc_frames"])
    assert "lawnmower" not in json.dumps(out)


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123", True), ("a" * 128, True), ("a" * 129, False), ("has space", False), (None, False),
     ("<script>", False), ("", False)],
)
def test_request_ids_from_callers_are_kept_only_when_safe(given: str | None, kept: bool) -> None:
    assert (clean_request_id(given) == given) is kept
    assert request_id.get() is None or isinstance(request_id.get(), str)
