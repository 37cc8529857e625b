"""The template editor page (issue 8): its shell and assets are public and fixed; everything it shows comes from
the admin-only template API."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drafter.api.app import create_app
from drafter.identity import Role
from drafter.settings import Settings
from tests.conftest import FakeLLM

WEB = Path(__file__).resolve().parents[2] / "drafter" / "web"
PAGE_ASSETS = ("editor.js", "editor.css", "common.js", "common.css")


@pytest.mark.parametrize(("frame_ancestors", "expected"), [
    ("", "frame-ancestors 'none'"),
    ("https://portal.example.org", "frame-ancestors 'self' https://portal.example.org"),
])
def test_the_shell_and_assets_are_public_with_the_strict_csp(settings: Settings, fake_llm: FakeLLM,
                                                           frame_ancestors: str, expected: str) -> None:
    app = create_app(settings.model_copy(update={"frame_ancestors": frame_ancestors}), llm=fake_llm)
    with TestClient(app) as anon:
        for path in ("/admin/templates", *(f"/admin/templates/assets/{name}" for name in PAGE_ASSETS)):
            r = anon.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            assert csp.endswith(expected) and "script-src 'self';" in csp and "unsafe-inline" not in csp
            assert r.headers["cache-control"] == "no-cache" and "set-cookie" not in r.headers
        assert anon.get("/admin/templates").headers["content-type"].startswith("text/html")
        assert anon.get("/admin/templates/assets/editor.js").headers["content-type"].startswith("text/javascript")
        assert anon.get("/admin/templates/assets/editor.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(("name", "status"), [*((n, 200) for n in PAGE_ASSETS), ("editor.html", 404),
                                              ("inbox.js", 404), ("..%2F__init__.py", 404), ("__init__.py", 404)])
def test_only_the_page_assets_are_served(anon_client: TestClient, name: str, status: int) -> None:
    assert anon_client.get(f"/admin/templates/assets/{name}").status_code == status


def test_the_page_refers_only_to_its_own_assets() -> None:
    html = (WEB / "editor.html").read_text()
    sources = [s for s in re.findall(r'(?:src|href)="([^"#]+)"', html) if s not in ("data:,", "/inbox")]
    assert sources and all(s.startswith("/admin/templates/assets/") for s in sources), sources
    assert "<script>" not in html and "style=" not in html  # the CSP allows no inline code
    script = (WEB / "editor.js").read_text()
    assert set(re.findall(r'from "\./([\w.]+)"', script)) == {"common.js"}  # served beside it


def test_every_control_of_the_shell_has_a_label() -> None:
    html = (WEB / "editor.html").read_text()
    labelled = set(re.findall(r'<label for="([\w-]+)"', html))
    controls = set(re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([\w-]+)"', html, flags=re.DOTALL))
    assert controls and controls <= labelled, controls - labelled


@pytest.mark.parametrize(("role", "status"), [(Role.CLINICIAN, 403), (Role.QA, 403), (Role.ADMIN, 200)])
def test_the_data_behind_the_page_is_for_admins_only(client_for: Callable[[Role | str], TestClient],
                                                     role: Role, status: int) -> None:
    http = client_for(role)
    for path in ("/v1/templates", "/v1/template-samples", "/v1/templates/default/versions/1"):
        assert http.get(path).status_code == status, path
    assert http.get("/v1/me").json()["role"] == role.value  # what the page checks to explain a refusal


def test_without_a_token_the_data_is_refused(anon_client: TestClient) -> None:
    assert anon_client.get("/admin/templates").status_code == 200
    assert anon_client.get("/v1/templates").status_code == 401
