"""The loopback fake OpenAI server behaves like the real API, and each fault reaches the client as intended."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from drafter.errors import LLMError, LLMResponseError, LLMTimeoutError, LLMUnavailableError
from drafter.llm.base import ChatMessage, Delta, LLMRequest, LLMResult
from drafter.llm.openai_backend import OpenAIBackend
from drafter.llm.retry import RetryPolicy
from drafter.testing.fake_openai import DEFAULT_REPLY, FakeOpenAIServer, Fault

pytestmark = pytest.mark.anyio

CHAT = LLMRequest(mode="chat", messages=(ChatMessage("user", "My headache is back."),), max_tokens=200,
                  temperature=0.2, stop=())
COMPLETION = LLMRequest(mode="completion", prompt="Patient: My headache is back.\nReply:", max_tokens=200,
                        temperature=0.0, stop=())


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(retry_after_s=0.01, hang_s=30) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset(server: FakeOpenAIServer) -> None:
    server.state.faults.clear()
    server.set_default_fault(None)
    server.state.words = None


def backend(server: FakeOpenAIServer, *, attempts: int = 3, timeout_s: float = 5.0) -> OpenAIBackend:
    return OpenAIBackend(base_url=server.base_url, api_key=None, model="fake-model", timeout_s=timeout_s,
                         retry=RetryPolicy(max_attempts=attempts, budget_s=10, initial_wait_s=0.01, max_wait_s=0.05))


@pytest.mark.parametrize("request_", [CHAT, COMPLETION], ids=["chat", "completion"])
async def test_complete_and_stream_return_the_reply(server: FakeOpenAIServer, request_: LLMRequest) -> None:
    llm = backend(server)
    try:
        result = await llm.complete(request_)
        assert result.text == DEFAULT_REPLY
        assert result.usage.completion_tokens == len(DEFAULT_REPLY.split())
        events = [e async for e in llm.stream(request_)]
    finally:
        await llm.aclose()
    assert "".join(e.text for e in events if isinstance(e, Delta)) == DEFAULT_REPLY
    assert isinstance(events[-1], LLMResult)
    assert events[-1].text == DEFAULT_REPLY


async def test_words_sets_the_reply_length(server: FakeOpenAIServer) -> None:
    server.state.words = 150
    llm = backend(server)
    try:
        assert len((await llm.complete(CHAT)).text.split()) == 150
    finally:
        await llm.aclose()


@pytest.mark.parametrize("faults", [
    [Fault.RATE_LIMITED],
    [Fault.SERVER_ERROR, Fault.UNAVAILABLE],
    [Fault.DROP_STREAM],
])
async def test_transient_faults_are_retried(server: FakeOpenAIServer, faults: list[Fault]) -> None:
    server.enqueue(*faults)
    before = server.requests
    llm = backend(server)
    try:
        result = await llm.complete(CHAT)
    finally:
        await llm.aclose()
    assert result.text == DEFAULT_REPLY
    assert result.attempts == len(faults) + 1
    assert server.requests - before == len(faults) + 1


@pytest.mark.parametrize(("fault", "error", "stream"), [
    (Fault.UNAVAILABLE, LLMUnavailableError, False),
    (Fault.INVALID_JSON, LLMError, False),
    (Fault.EMPTY_CHOICES, LLMResponseError, False),
    (Fault.EMPTY_CHOICES, LLMResponseError, True),
    (Fault.DROP_STREAM, LLMError, True),
])
async def test_persistent_faults_end_in_typed_errors(server: FakeOpenAIServer, fault: Fault, error: type[LLMError],
                                                     stream: bool) -> None:
    server.set_default_fault(fault)
    llm = backend(server, attempts=2)
    try:
        call = llm.complete(CHAT) if not stream else _drain(llm)
        with pytest.raises(error):
            await call
    finally:
        await llm.aclose()


async def _drain(llm: OpenAIBackend) -> None:
    async for _ in llm.stream(CHAT):
        pass


async def test_a_hang_times_out(server: FakeOpenAIServer) -> None:
    server.enqueue(Fault.HANG)
    llm = backend(server, attempts=1, timeout_s=0.3)
    try:
        with pytest.raises(LLMTimeoutError):
            await llm.complete(CHAT)
    finally:
        await llm.aclose()


async def test_an_enormous_reply_arrives_whole(server: FakeOpenAIServer) -> None:
    server.enqueue(Fault.ENORMOUS)
    llm = backend(server)
    try:
        assert len((await llm.complete(CHAT)).text) == 2_000_000
    finally:
        await llm.aclose()


async def test_stats_count_requests_whole_completions_and_concurrent_waits() -> None:
    """GET /stats: what a benchmark checks (e.g. no draft written twice); faults and cut streams are no completion."""
    with FakeOpenAIServer(latency_s=0.2, retry_after_s=0.01) as srv:
        llm = backend(srv, attempts=1)
        stats_url = srv.base_url.removesuffix("/v1") + "/stats"
        try:
            srv.enqueue(Fault.SERVER_ERROR, Fault.DROP_STREAM)
            with pytest.raises(LLMError):
                await llm.complete(CHAT)
            with pytest.raises(LLMError):
                _ = [e async for e in llm.stream(CHAT)]
            await asyncio.gather(llm.complete(CHAT), llm.complete(COMPLETION), llm.complete(CHAT))
            _ = [e async for e in llm.stream(COMPLETION)]
        finally:
            await llm.aclose()
        async with httpx.AsyncClient() as http:
            stats = (await http.get(stats_url)).json()
            assert stats == {"requests": 6, "completions": 4, "in_flight": 0, "peak_in_flight": 3}
            assert (await http.post(stats_url + "/reset")).json() == {
                "requests": 0, "completions": 0, "in_flight": 0, "peak_in_flight": 0}
