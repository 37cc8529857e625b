"""Template administration through the real app: versions, validation, preview, diff, the eval gate (wired to
the evals runner and compare, with a scripted model), publish, rollback, labels, outcomes and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from drafter.errors import StorageError
from drafter.identity import Role
from drafter.templates import resolver as resolver_module
from tests.conftest import GOOD_REPLY
from tests.templates.conftest import MARKER, PromptAwareLLM

HEADACHE = {"message": {"text": "I've had a headache for three days and ibuprofen isn't helping"}}


@pytest.fixture
def admin(client_for: Callable[[Role | str], TestClient]) -> TestClient:
    return client_for(Role.ADMIN)


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code and body["message"]
    return body


def new_version(admin: TestClient, changes: dict[str, str | None], message: str = "an edit") -> Any:
    return admin.post("/v1/templates/default/versions", json={"based_on": 1, "changes": changes, "message": message})


def edited_system(admin: TestClient, extra: str) -> str:
    system: str = admin.get("/v1/templates/default/versions/1").json()["files"]["system.j2"]
    return system + "\n" + extra


def test_files_seed_version_1_in_production(admin: TestClient) -> None:
    assert admin.get("/v1/templates").json() == {
        "items": [{"name": "default", "versions": 1, "latest": 1, "labels": {"production": 1}}]}
    versions = admin.get("/v1/templates/default/versions").json()
    assert versions["labels"] == {"production": 1}
    [v1] = versions["items"]
    assert (v1["version"], v1["status"], v1["author"], v1["labels"]) == (1, "published", "system", ["production"])
    full = admin.get("/v1/templates/default/versions/1").json()
    assert {"manifest.yaml", "system.j2", "user.j2", "completion.j2", "exemplars.yaml"} <= set(full["files"])


def test_an_invalid_version_is_refused_with_every_issue_and_nothing_is_stored(admin: TestClient) -> None:
    r = new_version(admin, {"system.j2": "Hello {{ who }\n", "user.j2": "{{ stranger }}"})
    body = error_of(r, 422, "template_invalid")
    issues = {(i["code"], i["template"], i["line"], i["column"]) for i in body["details"]["issues"]}
    assert ("syntax_error", "system.j2", 1, 14) in issues
    assert ("undeclared_variable", "user.j2", 1, 4) in issues
    assert admin.get("/v1/templates/default/versions").json()["items"][0]["version"] == 1


def test_a_version_whose_samples_fail_to_render_is_refused(admin: TestClient) -> None:
    r = new_version(admin, {"system.j2": edited_system(admin, "{{ 1 / (urgency_labels | length) }}")})
    body = error_of(r, 422, "template_invalid")
    failed = [x for x in body["details"]["renders"] if not x["ok"]]
    assert failed and all("ZeroDivisionError" in x["issue"]["message"] for x in failed)
    assert failed[0]["issue"]["template"] == "system.j2"
    assert any(x["ok"] for x in body["details"]["renders"])  # urgent samples have labels and render


def test_validate_unsaved_changes_reports_without_storing(admin: TestClient) -> None:
    ok = admin.post("/v1/templates/default/validate", json={"based_on": 1, "changes": {"user.j2": None}})
    assert ok.status_code == 200 and not ok.json()["ok"]
    assert any("user.j2" in i["message"] for i in ok.json()["issues"])
    good = admin.post("/v1/templates/default/validate", json={"based_on": 1, "changes": {}}).json()
    assert good["ok"] and len(good["renders"]) > 40 and all(r["ok"] for r in good["renders"])
    assert admin.get("/v1/templates").json()["items"][0]["versions"] == 1


def test_preview_is_the_exact_request_and_stores_nothing(admin: TestClient, client: TestClient,
                                                         fake_llm: PromptAwareLLM) -> None:
    fake_llm.enqueue(GOOD_REPLY)
    drafted = client.post("/v1/drafts", json=HEADACHE)
    assert drafted.status_code == 201
    sent = fake_llm.requests[-1]
    preview = admin.post("/v1/templates/default/versions/1/preview",
                         json={"request": HEADACHE, "mode": "chat"}).json()
    assert [m["content"] for m in preview["request"]["messages"]] == [m.content for m in sent.messages]
    before = len(client.get("/v1/drafts").json()["items"])
    full = admin.post("/v1/templates/default/versions/1/preview",
                      json={"sample_id": "chest-pain-injection", "full_draft": True}).json()
    assert full["draft"]["urgency"] == "emergency"
    assert {f["check"] for f in full["draft"]["findings"]} >= {"urgency", "injection"}
    assert len(client.get("/v1/drafts").json()["items"]) == before  # a preview never reaches an inbox
    unknown = admin.post("/v1/templates/default/versions/1/preview", json={"sample_id": "nope"})
    assert "headache" in error_of(unknown, 404, "not_found")["message"]


def test_unsaved_preview_renders_the_edit(admin: TestClient) -> None:
    r = admin.post("/v1/templates/default/preview", json={
        "based_on": 1, "changes": {"system.j2": edited_system(admin, "PREVIEW-ONLY LINE")}, "sample_id": "thanks"})
    assert r.status_code == 200
    assert r.json()["request"]["messages"][0]["content"].endswith("PREVIEW-ONLY LINE")


def test_publish_runs_the_gate_then_drafts_use_the_new_version_until_rollback(
        admin: TestClient, client: TestClient, fake_llm: PromptAwareLLM,
        monkeypatch: pytest.MonkeyPatch) -> None:
    created = new_version(admin, {"system.j2": edited_system(admin, "Thank the patient by name when known.")},
                          message="thank by name")
    assert created.status_code == 201, created.text
    assert created.json()["version"]["version"] == 2 and created.json()["validation"]["ok"]
    diff = admin.get("/v1/templates/default/diff", params={"from": 1, "to": 2}).json()
    assert list(diff["files"]) == ["system.j2"]
    assert "+Thank the patient by name when known." in diff["files"]["system.j2"]

    published = admin.post("/v1/templates/default/versions/2/publish", json={})
    assert published.status_code == 200, published.text
    gate = published.json()["gate"]
    assert gate["status"] == "passed" and gate["gate"] == "evals" and gate["details"]["paired_cases"] == 12
    assert published.json()["version"]["status"] == "published"

    loads: list[int] = []
    real = resolver_module.template_set_of
    monkeypatch.setattr(resolver_module, "template_set_of", lambda row: loads.append(row.version) or real(row))
    for _ in range(3):
        assert client.post("/v1/drafts", json=HEADACHE).json()["template_set"] == "default@2"
    assert loads == [2]  # one load for three drafts: versions are cached by id, only the label is read each time
    rolled = admin.post("/v1/templates/default/rollback", json={"reason": "clinicians asked for the old wording"})
    assert rolled.json()["version"] == 1
    assert client.post("/v1/drafts", json=HEADACHE).json()["template_set"] == "default@1"
    named = client.post("/v1/drafts", json={**HEADACHE, "template": "default@2"})
    assert named.json()["template_set"] == "default@2"
    statuses = {v["version"]: v["status"] for v in admin.get("/v1/templates/default/versions").json()["items"]}
    assert statuses == {1: "published", 2: "archived"}
    history = admin.get("/v1/templates/default/labels/production/history").json()
    assert [(h["action"], h["to_version"], h["actor"]) for h in history] == [
        ("seed", 1, "system"), ("publish", 2, "test-admin"), ("rollback", 1, "test-admin")]
    assert error_of(admin.post("/v1/templates/default/rollback", json={"reason": "again"}), 409, "conflict")


def test_a_regression_blocks_publishing_until_an_admin_overrides_with_a_reason(
        admin: TestClient, fake_llm: PromptAwareLLM) -> None:
    created = new_version(admin, {"system.j2": edited_system(admin, MARKER)}, message="terse")
    assert created.status_code == 201, created.text
    blocked = admin.post("/v1/templates/default/versions/2/publish", json={})
    gate = error_of(blocked, 409, "gate_blocked")["details"]["gate"]
    assert gate["status"] == "regressed"
    assert any(m["regressed"] and m["name"].startswith("pass_rate") for m in gate["metrics"])
    assert any(f["direction"] == "pass→fail" for f in gate["details"]["flipped"])
    assert admin.get("/v1/templates/default/versions/2").json()["gate"]["status"] == "regressed"
    short = admin.post("/v1/templates/default/versions/2/publish", json={"override_reason": "ok"})
    error_of(short, 422, "invalid_input")
    forced = admin.post("/v1/templates/default/versions/2/publish",
                        json={"override_reason": "Terse replies requested by the clinic board for a trial."})
    assert forced.status_code == 200 and forced.json()["gate"]["status"] == "regressed"
    services = admin.app.state.services  # type: ignore[attr-defined]
    assert admin.portal is not None
    events = admin.portal.call(services.store.audit_events)
    publish = [e for e in events if e.action == "template.publish"][-1]
    assert publish.actor == "test-admin" and publish.details["override"] is True
    assert publish.details["reason"] == "Terse replies requested by the clinic board for a trial."
    assert [e.details["status"] for e in events if e.action == "template.gate_run"] == ["regressed", "regressed"]
    history = admin.get("/v1/templates/default/labels/production/history").json()
    assert history[-1]["reason"] == "Terse replies requested by the clinic board for a trial."


def test_requests_naming_templates(client: TestClient, admin: TestClient) -> None:
    assert client.post("/v1/drafts", json={**HEADACHE, "template": "default@1"}).status_code == 201
    assert client.post("/v1/drafts", json={**HEADACHE, "template": "default@production"}).status_code == 201
    error_of(client.post("/v1/drafts", json={**HEADACHE, "template": "default@7"}), 404, "not_found")
    error_of(client.post("/v1/drafts", json={**HEADACHE, "template": "default@staging"}), 404, "not_found")
    error_of(client.post("/v1/drafts", json={**HEADACHE, "template": "../etc@1"}), 422, "invalid_input")
    assert admin.put("/v1/templates/default/labels/staging", json={"version": 1}).status_code == 200
    assert client.post("/v1/drafts", json={**HEADACHE, "template": "default@staging"}).status_code == 201
    error_of(admin.put("/v1/templates/default/labels/production", json={"version": 1}), 422, "invalid_input")


def test_a_draft_naming_a_missing_label_stores_nothing(client: TestClient, admin: TestClient) -> None:
    # The label is read inside the accept transaction: refusing it must roll the message back too.
    services = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None
    events = len(client.portal.call(services.store.audit_events))
    error_of(client.post("/v1/drafts", json={**HEADACHE, "template": "default@staging"}), 404, "not_found")
    assert client.get("/v1/drafts").json()["count"] == 0
    assert len(client.portal.call(services.store.audit_events)) == events


def test_a_template_set_that_cannot_be_loaded_after_accept_leaves_a_failed_draft(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # The production set is loaded once per version, after the accept that read its label: should that load fail,
    # the accepted message keeps a failed draft (regenerable) instead of vanishing.
    services = client.app.state.services  # type: ignore[attr-defined]
    resolver = services.pipeline.templates

    async def unavailable(version_id: str) -> Any:
        raise StorageError("The database does not answer (OperationalError).")

    resolver._cache.clear()
    monkeypatch.setattr(resolver.store, "version_by_id", unavailable)
    error_of(client.post("/v1/drafts", json=HEADACHE), 503, "storage_unavailable")
    items = client.get("/v1/drafts").json()["items"]
    assert [(d["status"], d["error"]["code"]) for d in items] == [("failed", "storage_unavailable")]
    assert items[0]["message"]["text"] == HEADACHE["message"]["text"]


def test_outcomes_per_version_come_from_the_reviews(client: TestClient, admin: TestClient) -> None:
    ids = [client.post("/v1/drafts", json=HEADACHE).json()["id"] for _ in range(4)]
    decisions = [{"decision": "approve"},
                 {"decision": "approve", "final_text": GOOD_REPLY.replace("three days", "3 days"),
                  "reason": "Good tone."},
                 {"decision": "reject", "reason": "Too long."},
                 {"decision": "reject", "reason": "too long"}]
    for draft_id, decision in zip(ids, decisions, strict=True):
        r = client.post(f"/v1/drafts/{draft_id}/review", json=decision)
        assert r.status_code == 200, r.text
    out = admin.get("/v1/templates/default/versions/1/outcomes").json()
    counts = (out["drafts"], out["reviewed"], out["approved"], out["approved_unedited"], out["rejected"])
    assert counts == (4, 4, 2, 1, 2)
    assert (out["approval_rate"], out["approved_unedited_rate"]) == (0.5, 0.25)
    assert out["mean_char_edit_distance"] == 2.5  # 0 and 5 ("three" -> "3")
    assert out["rejection_reasons"] == [{"reason": "too long", "count": 2}]
    assert out["feedback"] == ["Good tone."]
