"""The OpenAI client takes the environment's proxies (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), as the SDK's
own client would: a health system's egress proxy is how the model endpoint is reached."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from drafter.errors import ConfigError, LLMUnavailableError
from drafter.llm.base import ChatMessage, LLMRequest
from drafter.llm.openai_backend import OpenAIBackend
from drafter.llm.retry import RetryPolicy
from drafter.testing.fake_openai import DEFAULT_REPLY, FakeOpenAIServer

pytestmark = pytest.mark.anyio

REQUEST = LLMRequest(mode="chat", messages=(ChatMessage("user", "My knee hurts."),), max_tokens=50,
                     temperature=0.0, stop=())
REPLY = json.dumps({
    "id": "c1", "object": "chat.completion", "created": 0, "model": "fake-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Through the proxy."},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
}).encode()


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A forward proxy on loopback that answers every request itself; (its URL, the request lines it saw)."""
    seen: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        seen.append(head.split("\r\n", 1)[0])
        length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                       if line.lower().startswith("content-length:")), 0)
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(REPLY)).encode() + b"\r\nConnection: close\r\n\r\n" + REPLY)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen
    finally:
        server.close()
        await server.wait_closed()


def backend() -> OpenAIBackend:
    return OpenAIBackend(base_url="http://llm.invalid/v1", api_key="k", model="fake-model", timeout_s=5,
                         retry=RetryPolicy(max_attempts=1, budget_s=5), max_response_bytes=65_536)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_requests_go_through_the_proxy_the_environment_names(
        proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    url, seen = proxy
    monkeypatch.setenv(variable, url)
    llm = backend()
    try:
        result = await llm.complete(REQUEST)
    finally:
        await llm.aclose()
    assert result.text == "Through the proxy."
    assert seen == ["POST http://llm.invalid/v1/chat/completions HTTP/1.1"]


async def test_a_no_proxy_host_is_reached_directly(proxy: tuple[str, list[str]],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "llm.invalid")
    llm = backend()
    try:
        with pytest.raises(LLMUnavailableError):  # .invalid never resolves: the direct attempt fails
            await llm.complete(REQUEST)
    finally:
        await llm.aclose()
    assert seen == []


async def test_loopback_is_never_proxied(proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded model and a local vLLM listen on loopback, which an egress proxy cannot reach."""
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    with FakeOpenAIServer() as server:
        llm = OpenAIBackend(base_url=server.base_url, api_key="k", model="fake-model", timeout_s=5,
                            retry=RetryPolicy(max_attempts=1, budget_s=5), max_response_bytes=65_536)
        try:
            result = await llm.complete(REQUEST)
        finally:
            await llm.aclose()
    assert result.text == DEFAULT_REPLY
    assert seen == []


@pytest.mark.parametrize("value", ["ftp://proxy.example:21", "gopher://proxy.example:70"])
def test_a_proxy_that_cannot_be_used_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HTTPS_PROXY", value)
    with pytest.raises(ConfigError) as info:
        backend()
    assert "HTTPS_PROXY" in info.value.message and "http://" in info.value.message
