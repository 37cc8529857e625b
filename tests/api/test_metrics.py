"""GET /metrics: Prometheus text with request, LLM, step, finding and draft metrics; per-app registries; no PHI."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from drafter.api.app import create_app
from drafter.api.policy import LOOPBACK_ONLY, ROUTE_POLICY
from drafter.errors import LLMUnavailableError
from drafter.identity import Role
from drafter.llm.base import LLMResult, Usage
from drafter.settings import Settings
from drafter.storage.accounts import AccountStore
from tests.conftest import GOOD_REPLY, FakeLLM

PATIENT_TEXT = "I am Rosalind Quibble, phone 555-867-5309, and my knee hurts when I climb stairs."
FLAGGED_REPLY = "There is nothing to worry about. Stop taking your ibuprofen and double the other one."


LOOPBACK = ("127.0.0.1", 50123)


@pytest.fixture
def scraper(app_client: TestClient) -> TestClient:
    """A Prometheus scraper on the same host: the running app, from a loopback address, with no token."""
    local = TestClient(app_client.app, raise_server_exceptions=False, client=LOOPBACK)
    local.portal = app_client.portal  # the services live on the lifespan's event loop
    return local


def samples(scraper: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics as {(name, labels): value}."""
    response = scraper.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(all_samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return all_samples.get((name, frozenset(labels.items())), 0.0)


def draft(client: TestClient, fake_llm: FakeLLM, reply: str | BaseException | LLMResult) -> Any:
    fake_llm.enqueue(reply)
    return client.post("/v1/drafts", json={"message": {"text": PATIENT_TEXT},
                                           "patient": {"preferred_name": "Rosalind", "age": 51}})


@pytest.mark.parametrize(("reply", "status", "http_status"), [
    (LLMResult(text=GOOD_REPLY, model="fake-model", usage=Usage(120, 45)), "pending_review", 201),
    (FLAGGED_REPLY, "needs_clinician", 201),
    (LLMUnavailableError("The model endpoint is down."), "failed", 503),
], ids=["pending", "needs-clinician", "failed"])
def test_a_draft_is_counted_by_status(client: TestClient, scraper: TestClient, fake_llm: FakeLLM, reply: Any,
                                      status: str, http_status: int) -> None:
    before = samples(scraper)
    response = draft(client, fake_llm, reply)
    assert response.status_code == http_status, response.text
    after = samples(scraper)
    assert value(after, "drafter_drafts_total", status=status) - value(before, "drafter_drafts_total",
                                                                         status=status) == 1
    assert value(after, "drafter_http_request_duration_seconds_count", method="POST", route="/v1/drafts",
                 status=str(http_status)) == 1
    outcome = "ok" if status != "failed" else "llm_unavailable"
    assert value(after, "drafter_llm_request_duration_seconds_count", backend="fake", outcome=outcome) == 1
    assert value(after, "drafter_pipeline_step_duration_seconds_count", step="input_checks") == 1


def test_a_template_only_fallback_draft_is_counted_with_the_models_error(settings: Settings) -> None:
    fake_llm = FakeLLM()
    fake_llm.enqueue(LLMUnavailableError("The model endpoint is down."))
    with TestClient(create_app(settings.model_copy(update={"llm_fallback": True}), llm=fake_llm),
                    client=LOOPBACK) as app:
        accounts = AccountStore(app.app.state.services.store)  # type: ignore[attr-defined]
        _, token = app.portal.call(partial(accounts.create_user, "dr.fallback", Role.CLINICIAN, actor="tests"))
        response = app.post("/v1/drafts", json={"message": {"text": PATIENT_TEXT}},
                            headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
        assert response.json()["model"] != "fake-model"
        got = samples(app)
    assert value(got, "drafter_drafts_total", status=response.json()["status"]) == 1
    assert value(got, "drafter_llm_request_duration_seconds_count", backend="fake", outcome="llm_unavailable") == 1
    assert value(got, "drafter_llm_request_duration_seconds_count", backend="fake", outcome="ok") == 0


def test_tokens_findings_and_steps(client: TestClient, scraper: TestClient, fake_llm: FakeLLM) -> None:
    body = draft(client, fake_llm, LLMResult(text=FLAGGED_REPLY, model="fake-model", usage=Usage(300, 17))).json()
    got = samples(scraper)
    assert value(got, "drafter_llm_tokens_total", backend="fake", kind="prompt") == 300
    assert value(got, "drafter_llm_tokens_total", backend="fake", kind="completion") == 17
    by_check: dict[tuple[str, str], int] = {}
    for f in body["findings"]:
        by_check[(f["check"], f["severity"])] = by_check.get((f["check"], f["severity"]), 0) + 1
    assert by_check  # the flagged reply has findings
    for (check, severity), count in by_check.items():
        assert value(got, "drafter_findings_total", check=check, severity=severity) == count
    for step in ("input_checks", "store_accept", "render", "llm", "output_checks"):
        assert value(got, "drafter_pipeline_step_duration_seconds_count", step=step) == 1, step
    assert value(got, "drafter_draft_overhead_seconds_count") == 1


def test_routes_are_labelled_by_template_never_by_raw_path(client: TestClient, scraper: TestClient,
                                                           fake_llm: FakeLLM) -> None:
    draft_id = draft(client, fake_llm, GOOD_REPLY).json()["id"]
    assert client.get(f"/v1/drafts/{draft_id}").status_code == 200
    assert client.get("/v1/drafts/not-a-draft").status_code == 404
    assert client.get("/no/such/page/555-867-5309").status_code == 404
    got = samples(scraper)
    assert value(got, "drafter_http_request_duration_seconds_count", method="GET", route="/v1/drafts/{draft_id}",
                 status="200") == 1
    assert value(got, "drafter_http_request_duration_seconds_count", method="GET", route="/v1/drafts/{draft_id}",
                 status="404") == 1
    assert value(got, "drafter_http_request_duration_seconds_count", method="GET", route="<unmatched>",
                 status="404") == 1
    assert draft_id not in scraper.get("/metrics").text


def test_metrics_carry_no_phi(client: TestClient, scraper: TestClient, fake_llm: FakeLLM) -> None:
    reply = "Thank you, Rosalind. We have your number 555-867-5309 on file and will call you about your knee."
    body = draft(client, fake_llm, reply).json()
    text = scraper.get("/metrics").text
    for secret in ("Rosalind", "Quibble", "555-867-5309", "knee", body["id"], body["message"]["id"]):
        assert secret not in text, secret


def test_each_app_has_its_own_registry(settings: Settings, fake_llm: FakeLLM, client: TestClient,
                                       scraper: TestClient) -> None:
    draft(client, fake_llm, GOOD_REPLY)
    with TestClient(create_app(settings, llm=FakeLLM()), client=LOOPBACK) as other:
        assert value(samples(other), "drafter_drafts_total", status="pending_review") == 0
    assert value(samples(scraper), "drafter_drafts_total", status="pending_review") == 1


def test_queue_depth_is_a_gauge_others_set(scraper: TestClient) -> None:
    gauge = scraper.app.state.metrics.queue_depth  # type: ignore[attr-defined]
    gauge.labels(queue="drafts").set(7)
    assert value(samples(scraper), "drafter_queue_depth", queue="drafts") == 7


def test_metrics_is_public_only_on_loopback_without_a_proxy(app_client: TestClient, client: TestClient,
                                                            scraper: TestClient) -> None:
    assert ROUTE_POLICY[("GET", "/metrics")] is None  # no token: a scraper holds no credential that reads drafts
    assert ("GET", "/metrics") in LOOPBACK_ONLY
    assert scraper.get("/metrics").status_code == 200
    remote = TestClient(app_client.app, raise_server_exceptions=False, client=("203.0.113.9", 40000))
    remote.portal = app_client.portal
    for caller, headers in [(remote, {}), (client, {}),  # another address; the test client's non-IP peer name
                            (scraper, {"X-Forwarded-For": "203.0.113.9"}), (scraper, {"Forwarded": "for=203.0.113.9"}),
                            (scraper, {"X-Real-IP": "203.0.113.9"})]:
        response = caller.get("/metrics", headers=headers)
        assert response.status_code == 403, headers
        assert response.json()["error"]["code"] == "forbidden"
        assert "drafter_" not in response.text
