"""Long messages keep the event loop free: their guardrails run in a worker thread, short ones inline."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from drafter.domain import DraftRequest, DraftStatus
from drafter.services import Services, open_services
from drafter.settings import Settings
from guardrails import CHECKS
from guardrails.registry import Check
from tests.conftest import GOOD_REPLY, FakeLLM

pytestmark = pytest.mark.anyio

SHORT = "My knee hurts when I climb stairs."
LONG = "My knee hurts when I climb stairs, and it is worse in the morning. " * 40  # ~2,700 characters


@pytest.fixture
async def services(settings: Settings, fake_llm: FakeLLM) -> AsyncIterator[Services]:
    async with open_services(settings, llm=fake_llm) as built:
        yield built


def _recording(monkeypatch: pytest.MonkeyPatch, name: str, threads: list[int]) -> None:
    """Wrap a real check so it notes which thread ran it, then does its usual work."""
    original = CHECKS[name]

    def wrapped(ctx: Any, **params: Any) -> Any:
        threads.append(threading.get_ident())
        return original.fn(ctx, **params)

    monkeypatch.setitem(CHECKS, name, Check(name, original.stage, wrapped, original.description))


@pytest.mark.parametrize(("text", "off_loop"), [(SHORT, False), (LONG, True)], ids=["short-inline", "long-thread"])
async def test_guardrails_run_off_the_loop_only_for_long_messages(
        services: Services, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, text: str, off_loop: bool) -> None:
    assert (len(text) > services.pipeline.config.offload_chars) is off_loop
    input_threads: list[int] = []
    output_threads: list[int] = []
    _recording(monkeypatch, "urgency", input_threads)
    _recording(monkeypatch, "plain_text", output_threads)
    fake_llm.enqueue(GOOD_REPLY)
    draft = await services.pipeline.draft(DraftRequest.model_validate({"message": {"text": text}}))
    loop_thread = threading.get_ident()
    assert draft.status in {DraftStatus.PENDING_REVIEW, DraftStatus.NEEDS_CLINICIAN}
    assert len(input_threads) == len(output_threads) == 1
    assert (input_threads[0] != loop_thread) is off_loop
    assert (output_threads[0] != loop_thread) is off_loop


async def test_long_message_findings_match_inline(services: Services, fake_llm: FakeLLM) -> None:
    """The thread changes where the checks run, not what they find."""
    request = DraftRequest.model_validate({"message": {"text": LONG + " I also have chest pain and cannot breathe."}})
    inline, level = services.pipeline.assess_input(request)
    fake_llm.enqueue(GOOD_REPLY)
    draft = await services.pipeline.draft(request)
    assert draft.message.urgency == level.value
    stored_input = [(f.check, f.code) for f in draft.findings if f.target == "message"]
    assert stored_input == [(f.check, f.code) for f in inline if f.target == "message"]
    assert any(f.check == "urgency" for f in inline)
