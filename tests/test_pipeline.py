"""The pipeline's own decisions: fail closed, policy severities, demo label, failure storage."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drafter.domain import DraftRequest, DraftStatus
from drafter.errors import LLMResponseError, TemplateError
from drafter.pipeline import Pipeline
from drafter.services import Services, open_services
from drafter.settings import Settings
from guardrails import CHECKS, Finding, Policy, Severity, parse_policy
from guardrails.registry import Check
from tests.conftest import GOOD_REPLY, FakeLLM

pytestmark = pytest.mark.anyio


@pytest.fixture
async def services(settings: Settings, fake_llm: FakeLLM) -> AsyncIterator[Services]:
    async with open_services(settings, llm=fake_llm) as built:
        yield built


def request(text: str = "My knee hurts when I climb stairs.") -> DraftRequest:
    return DraftRequest.model_validate({"message": {"text": text}})


async def test_a_crashing_check_holds_the_draft(services: Services, fake_llm: FakeLLM,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(ctx: object) -> list[Finding]:
        raise RuntimeError("boom")

    monkeypatch.setitem(CHECKS, "plain_text", Check("plain_text", "output", explode, "crashes"))
    fake_llm.enqueue(GOOD_REPLY)
    draft = await services.pipeline.draft(request())
    assert draft.status == DraftStatus.NEEDS_CLINICIAN
    crashed = [f for f in draft.findings if f.code == "check_error"]
    assert len(crashed) == 1 and crashed[0].severity == "block" and "plain_text" in crashed[0].message


async def test_a_check_returning_garbage_also_fails_closed(services: Services, fake_llm: FakeLLM,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CHECKS, "urgency", Check("urgency", "input", lambda ctx: ["not a finding"], "bad"))
    fake_llm.enqueue(GOOD_REPLY)
    draft = await services.pipeline.draft(request())
    assert draft.status == DraftStatus.NEEDS_CLINICIAN


@pytest.mark.parametrize(
    ("policy", "status"),
    [
        ({"checks": {"length": {"min_words": 500}}}, DraftStatus.PENDING_REVIEW),  # warn by default
        ({"checks": {"length": {"min_words": 500, "severity": "block"}}}, DraftStatus.NEEDS_CLINICIAN),
        ({"checks": {"length": {"enabled": False, "min_words": 500, "severity": "block"}}}, DraftStatus.PENDING_REVIEW),
    ],
)
async def test_policy_sets_severity_thresholds_and_enablement(services: Services, fake_llm: FakeLLM,
                                                              policy: dict[str, object], status: DraftStatus) -> None:
    services.pipeline.policy = parse_policy(policy)
    fake_llm.enqueue(GOOD_REPLY)
    assert (await services.pipeline.draft(request())).status == status


@pytest.mark.parametrize(
    "bad",
    [
        {"checks": {"nope": {}}},
        {"checks": {"length": {"severity": "fatal"}}},
        {"checks": {"length": {"max_chars": 3}}},
        {"checks": {"length": {"enabled": "yes"}}},
        {"checks": ["length"]},
    ],
)
def test_invalid_policies_are_refused(bad: dict[str, object]) -> None:
    from guardrails import PolicyError

    with pytest.raises(PolicyError):
        parse_policy(bad)


async def test_demo_model_drafts_say_so(settings: Settings, fake_llm: FakeLLM) -> None:
    async with open_services(settings, llm=fake_llm) as built:
        pipeline = Pipeline(llm=fake_llm, store=built.store, renderer=built.pipeline.renderer,
                            policy=Policy(), config=built.pipeline.config.__class__(demo_model=True))
        fake_llm.enqueue(GOOD_REPLY)
        draft = await pipeline.draft(request())
    demo = [f for f in draft.findings if f.check == "demo_model"]
    assert demo and demo[0].severity == Severity.WARN and "not for clinical use" in demo[0].message


async def test_render_failure_is_stored_as_failed_draft(settings: Settings, fake_llm: FakeLLM,
                                                        tmp_path: Path) -> None:
    broken = tmp_path / "prompts" / "default"
    shutil.copytree(settings.prompts_dir / "default", broken)
    # valid at load time (declared in the manifest), undefined at render time
    manifest = (broken / "manifest.yaml").read_text()
    (broken / "manifest.yaml").write_text(manifest + "  no_such_variable: {type: string, required: false}\n")
    (broken / "user.j2").write_text((broken / "user.j2").read_text() + "{{ no_such_variable }}")
    custom = settings.model_copy(update={"prompts_dir": tmp_path / "prompts"})
    async with open_services(custom, llm=fake_llm) as built:
        with pytest.raises(TemplateError) as info:
            await built.pipeline.draft(request())
        assert "no_such_variable" in info.value.message and "user.j2" in info.value.message
        stored = await built.store.get(info.value.details["draft_id"])
    assert stored.status == DraftStatus.FAILED and stored.error_code == "template_error"
    assert stored.message.text == "My knee hurts when I climb stairs."
    assert fake_llm.requests == []


async def test_empty_model_reply_fails_the_draft_not_the_message(services: Services, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(LLMResponseError("The language model returned an empty reply.", details={"reason": "empty"}))
    with pytest.raises(LLMResponseError) as info:
        await services.pipeline.draft(request())
    stored = await services.store.get(info.value.details["draft_id"])
    assert stored.status == DraftStatus.FAILED and stored.error_code == "llm_bad_response"


async def test_self_harm_gets_crisis_line_from_policy(services: Services, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue("I am sorry you are going through this. We care about you and will call you today.")
    text = "I don't want to live anymore, I have been thinking of ending it all"
    draft = await services.pipeline.draft(request(text))
    assert draft.message.urgency == "emergency"
    assert draft.text is not None and "988" in draft.text and "911" in draft.text
    assert draft.status == DraftStatus.PENDING_REVIEW  # guidance inserted, so no missing-guidance block


async def test_request_practice_overrides_settings(services: Services, fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(GOOD_REPLY)
    await services.pipeline.draft(DraftRequest.model_validate(
        {"message": {"text": "hello"}, "practice": {"name": "Hill Family Medicine", "after_hours_phone": "555-0199"}}))
    system = fake_llm.requests[0].messages[0].content
    assert "Hill Family Medicine" in system and "555-0199" in system


async def test_redaction_keeps_identifiers_from_the_model_and_restores_them(services: Services,
                                                                             fake_llm: FakeLLM) -> None:
    from dataclasses import replace

    services.pipeline.policy = replace(services.pipeline.policy, redact_phi=True)
    fake_llm.enqueue("Hi [PATIENT_NAME], thank you for writing about your knee. We will call you at [PHONE_1] "
                     "if we need anything. Please write back with any questions.")
    body = {"message": {"text": "This is Ana Diaz (MRN 00482913). My knee hurts; call me at 555-201-3344, "
                                "email ana.diaz@example.org"},
            "patient": {"name": "Ana Diaz", "date_of_birth": "1962-03-14"},
            "context": {"notes": "Ana Diaz prefers mornings"}}
    draft = await services.pipeline.draft(DraftRequest.model_validate(body))
    sent = "\n".join(m.content for m in fake_llm.requests[0].messages)
    for secret in ("Ana Diaz", "Diaz", "00482913", "555-201-3344", "ana.diaz@example.org", "1962-03-14"):
        assert secret not in sent
    assert "[PATIENT_NAME]" in sent and "[PHONE_1]" in sent
    assert draft.text is not None and draft.text.startswith("Hi Ana Diaz,") and "555-201-3344" in draft.text
    assert not [f for f in draft.findings if f.check == "phi_leak"]
