"""Quick feedback on drafts, and the inbox page's shell, assets and headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from drafter.api.app import create_app
from drafter.identity import Role
from drafter.settings import Settings
from tests.conftest import GOOD_REPLY, FakeLLM

WEB = Path(__file__).resolve().parents[2] / "drafter" / "web"


def a_draft(client: TestClient, fake_llm: FakeLLM) -> str:
    fake_llm.enqueue(GOOD_REPLY)
    r = client.post("/v1/drafts", json={"message": {"text": "My knee hurts when I climb stairs."}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_feedback_is_kept_per_clinician_and_audited(client: TestClient, fake_llm: FakeLLM,
                                                    client_for: Callable[[Role | str], TestClient]) -> None:
    draft_id = a_draft(client, fake_llm)
    first = client.post(f"/v1/drafts/{draft_id}/feedback",
                        json={"rating": "down", "tags": ["too_long", "tone", "too_long"], "comment": " wordy\x00 "})
    assert first.status_code == 201, first.text
    assert first.json()["user"] == "test-clinician"  # from the token, never from the body
    assert first.json()["tags"] == ["too_long", "tone"]
    assert first.json()["comment"] == "wordy"
    client.post(f"/v1/drafts/{draft_id}/feedback", json={"rating": "up", "tags": ["empathetic"]})
    listed = client_for(Role.QA).get(f"/v1/drafts/{draft_id}/feedback").json()["items"]
    assert [(f["rating"], f["tags"]) for f in listed] == [("down", ["too_long", "tone"]), ("up", ["empathetic"])]
    assert client_for(Role.QA).post(f"/v1/drafts/{draft_id}/feedback", json={"rating": "up"}).status_code == 403


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"rating": "meh"}, 422, "invalid_input"),
    ({"rating": "up", "tags": ["not_a_tag"]}, 422, "invalid_input"),
    ({"rating": "up", "user": "someone else"}, 422, "invalid_input"),
    ({"rating": "up", "comment": "x" * 1001}, 422, "invalid_input"),
    ({"tags": ["clear"]}, 422, "invalid_input"),
])
def test_bad_feedback_is_refused(client: TestClient, fake_llm: FakeLLM, body: dict[str, Any], status: int,
                                 code: str) -> None:
    draft_id = a_draft(client, fake_llm)
    r = client.post(f"/v1/drafts/{draft_id}/feedback", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert client.get(f"/v1/drafts/{draft_id}/feedback").json()["items"] == []


def test_feedback_on_an_unknown_draft_is_404(client: TestClient) -> None:
    assert client.post("/v1/drafts/nope/feedback", json={"rating": "up"}).status_code == 404
    assert client.get("/v1/drafts/nope/feedback").status_code == 404


@pytest.mark.parametrize(("frame_ancestors", "expected"), [
    ("", "frame-ancestors 'none'"),
    ("https://portal.example.org https://ehr.example.com:8443",
     "frame-ancestors 'self' https://portal.example.org https://ehr.example.com:8443"),
])
def test_the_page_may_be_framed_only_by_configured_origins(settings: Settings, fake_llm: FakeLLM,
                                                          frame_ancestors: str, expected: str) -> None:
    app = create_app(settings.model_copy(update={"frame_ancestors": frame_ancestors}), llm=fake_llm)
    with TestClient(app) as anon:  # the shell carries no patient data: no token needed
        for path in ("/inbox", "/inbox/assets/inbox.js", "/inbox/assets/inbox.css"):
            r = anon.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert csp.endswith(expected)
            assert "script-src 'self';" in csp and "unsafe-inline" not in csp
            assert "set-cookie" not in r.headers


@pytest.mark.parametrize(("name", "status"), [("inbox.js", 200), ("inbox.css", 200), ("inbox.html", 404),
                                              ("..%2Fsettings.py", 404), ("__init__.py", 404)])
def test_only_the_page_assets_are_served(anon_client: TestClient, name: str, status: int) -> None:
    assert anon_client.get(f"/inbox/assets/{name}").status_code == status


def test_the_page_refers_only_to_its_own_assets() -> None:
    html = (WEB / "inbox.html").read_text()
    sources = [s for s in re.findall(r'(?:src|href)="([^"#]+)"', html) if s != "data:,"]  # no favicon request
    assert sources and all(s.startswith("/inbox/assets/") for s in sources), sources
    assert "<script>" not in html and "style=" not in html  # the CSP allows no inline code


def test_the_script_never_turns_text_into_markup() -> None:
    """Patient and model text must reach the page as text: none of the HTML-parsing sinks may appear."""
    script = (WEB / "inbox.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "createContextualFragment", "document.cookie"):
        assert sink not in script, sink
