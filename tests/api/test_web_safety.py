"""Security headers on every answer, and patient text never served unescaped in HTML."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drafter.api.app import create_app
from drafter.api.policy import ROUTE_POLICY
from drafter.identity import Role
from drafter.settings import Settings
from tests.conftest import GOOD_REPLY, FakeLLM

SCRIPT = '<script>alert("pwned")</script>'
WEB = Path(__file__).resolve().parents[2] / "drafter" / "web"
# DOM APIs that parse a string as HTML or code: page scripts put API text (patient messages, model output,
# template files) into the page only as text nodes, textContent or value.
HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
              "createContextualFragment", "DOMParser", "setHTMLUnsafe", "parseHTMLUnsafe", "srcdoc",
              "document.cookie")
IMG = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/healthz", {}, 200),
        ("GET", "/v1/drafts", {}, 200),
        ("GET", "/v1/drafts/nope", {}, 404),
        ("GET", "/v1/nowhere", {}, 404),
        ("POST", "/v1/drafts", {"content": b"x" * 300_000, "headers": {"content-type": "application/json"}}, 413),
        ("POST", "/v1/drafts", {"json": {"message": {"text": ""}}}, 422),
        ("GET", "/openapi.json", {}, 200),
    ],
)
def test_every_answer_carries_the_security_headers(client: TestClient, method: str, path: str,
                                                   kwargs: dict[str, object], status: int) -> None:
    r = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert len(r.headers["x-request-id"]) >= 16


def test_unauthenticated_answers_carry_them_too(anon_client: TestClient) -> None:
    r = anon_client.get("/v1/drafts", headers={"X-Request-ID": "trace-42"})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == "trace-42"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_docs_pages_may_load_their_cdn_assets_but_nothing_else(anon_client: TestClient) -> None:
    csp = anon_client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self' https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp


def test_frame_ancestors_come_from_the_configured_portal_origins(settings: Settings) -> None:
    portal = settings.model_copy(update={"frame_ancestors": "https://portal.example.org https://ehr.example.org:8443"})
    with TestClient(create_app(portal, llm=FakeLLM())) as http:
        r = http.get("/healthz")
    assert "frame-ancestors 'self' https://portal.example.org https://ehr.example.org:8443" in \
        r.headers["content-security-policy"]
    assert "x-frame-options" not in r.headers  # it cannot name origins; CSP does


@pytest.mark.parametrize("value", ["portal.example.org", "https://x.org/path", "javascript:alert(1)", "'none' x"])
def test_bad_frame_ancestors_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        Settings(frame_ancestors=value)


def test_patient_script_never_comes_back_unescaped_in_html(client: TestClient, fake_llm: FakeLLM,
                                                           client_for: Callable[[Role], TestClient]) -> None:
    fake_llm.enqueue(f"{GOOD_REPLY} {SCRIPT}")
    r = client.post("/v1/drafts", json={"message": {"text": f"My rash is worse {SCRIPT} {IMG}", "subject": SCRIPT}})
    assert r.status_code == 201, r.text
    draft_id = r.json()["id"]
    admin = client_for(Role.ADMIN)
    seen_html = 0
    for (method, template) in sorted(ROUTE_POLICY):
        if method != "GET":
            continue
        page = admin.get(template.format(draft_id=draft_id, resource_id=draft_id, name="common.js", set_name="default",
                                         version=1, label="production"))
        kind = page.headers.get("content-type", "")
        if kind.startswith("text/html"):
            seen_html += 1
            assert SCRIPT not in page.text and IMG not in page.text, template
        elif kind.startswith(("text/javascript", "text/css")):  # the inbox's and the editor's static assets
            assert SCRIPT not in page.text and IMG not in page.text, template
        elif kind.startswith("text/event-stream"):  # draft events (issue 9): JSON data lines, never sniffed as HTML
            assert page.headers["x-content-type-options"] == "nosniff"
        else:
            assert not kind.startswith(("text/", "application/xhtml")), (template, kind)
            if SCRIPT in json.dumps(page.json() if "json" in kind else {}):
                assert kind.startswith("application/json")  # JSON, sniffing off: a browser never runs it
    assert seen_html >= 4  # the docs pages, the inbox and the template editor


@pytest.mark.parametrize("script", sorted(p.name for p in WEB.glob("*.js")))
def test_page_scripts_never_turn_text_into_markup(script: str) -> None:
    """Every page script (inbox, editor, their shared module) is free of HTML-parsing sinks."""
    source = (WEB / script).read_text(encoding="utf-8")
    for sink in HTML_SINKS:
        assert sink not in source, (script, sink)
    assert not re.search(r"\.setAttribute\(\s*[\"']on", source), script  # no inline event handlers either


def test_the_sink_check_covers_the_editor() -> None:
    assert {"inbox.js", "editor.js", "common.js"} <= {p.name for p in WEB.glob("*.js")}
