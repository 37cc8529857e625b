"""OpenAIBackend against a mocked OpenAI-compatible HTTP API (respx intercepts the SDK's httpx client)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import httpx
import pytest
import respx
from tenacity import AsyncRetrying

from drafter.errors import LLMError, LLMResponseError, LLMTimeoutError, LLMUnavailableError
from drafter.llm import openai_backend
from drafter.llm.base import ChatMessage, Delta, LLMRequest, LLMResult, StreamEvent, Usage
from drafter.llm.openai_backend import OpenAIBackend
from drafter.llm.retry import RetryPolicy

pytestmark = pytest.mark.anyio

BASE = "http://llm.test/v1"
CHAT = LLMRequest(
    mode="chat",
    messages=(ChatMessage("system", "You draft replies."), ChatMessage("user", "My headache is back.")),
    max_tokens=200, temperature=0.2, stop=("</draft>",),
)
COMPLETION = LLMRequest(mode="completion", prompt="Patient: My headache is back.\nReply:", max_tokens=120,
                        temperature=0.0, stop=("\nPatient:",))
RETRYABLE = [408, 409, 429, 500, 502, 503, 504]


class MakeBackend(Protocol):
    def __call__(self, *, max_attempts: int = ..., budget_s: float = ..., max_wait_s: float = ...) -> OpenAIBackend:
        ...


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the retry loop asked for; nothing really sleeps.

    The backend builds `AsyncRetrying` by name, so handing it a `sleep` that records is the narrowest seam:
    it touches neither the global `asyncio.sleep` nor tenacity's private default sleep function.
    """
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(float(seconds))

    monkeypatch.setattr(openai_backend, "AsyncRetrying", functools.partial(AsyncRetrying, sleep=record))
    return waits


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """The mocked endpoint; every route a test declares must be called."""
    with respx.mock(base_url=BASE) as router:
        yield router


@pytest.fixture
async def make_backend() -> AsyncIterator[MakeBackend]:
    """Backends on the fake endpoint with a fast retry policy; closed after the test."""
    made: list[OpenAIBackend] = []

    def make(*, max_attempts: int = 3, budget_s: float = 60.0, max_wait_s: float = 2.0) -> OpenAIBackend:
        policy = RetryPolicy(max_attempts=max_attempts, budget_s=budget_s, initial_wait_s=0.01, max_wait_s=max_wait_s)
        backend = OpenAIBackend(base_url=BASE, api_key="k", model="m", retry=policy)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


@pytest.fixture
def llm(make_backend: MakeBackend) -> OpenAIBackend:
    return make_backend()


# -- response builders -------------------------------------------------------------------------


def chat_body(content: Any = "Thank you for writing.", *, finish_reason: str | None = "stop",
              usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m-2025-01-01",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": usage if usage is not None else {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
    }


def completion_body(text: str = " Thank you for writing.", *, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "cmpl-1", "object": "text_completion", "created": 0, "model": "base-m",
        "choices": [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35},
    }


def error(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"error": {"message": f"HTTP {status}", "type": "x"}})


def chat_chunk(content: str | None, finish_reason: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content is not None else {}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m-2025-01-01",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def completion_chunk(text: str, finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "text_completion", "created": 0, "model": "base-m",
            "choices": [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}]}


def usage_chunk(prompt: int | None, completion: int | None, obj: str = "chat.completion.chunk") -> dict[str, Any]:
    return {"id": "c1", "object": obj, "created": 0, "model": "m-2025-01-01", "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def sse_bytes(*events: dict[str, Any]) -> bytes:
    return ("".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n").encode()


def sse(*events: dict[str, Any]) -> httpx.Response:
    """A server-sent-event stream of the given chunks, ended by [DONE] as OpenAI does."""
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse_bytes(*events))


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    """The JSON body of a call the route received."""
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


async def drain(stream: AsyncIterator[StreamEvent]) -> tuple[list[str], LLMResult]:
    """Deltas' texts and the one final result, checking the result comes last and only once."""
    events = [event async for event in stream]
    *deltas, final = events
    assert all(isinstance(d, Delta) for d in deltas)
    assert isinstance(final, LLMResult)
    return [d.text for d in deltas if isinstance(d, Delta)], final


# -- complete: success -------------------------------------------------------------------------


async def test_chat_success(api: respx.MockRouter, llm: OpenAIBackend) -> None:
    route = api.post("/chat/completions").respond(json=chat_body())
    result = await llm.complete(CHAT)

    assert (result.text, result.model, result.usage, result.finish_reason, result.attempts) == (
        "Thank you for writing.", "m-2025-01-01", Usage(42, 7), "stop", 1)
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == "Bearer k"
    assert sent(route) == {
        "model": "m", "max_tokens": 200, "temperature": 0.2, "stop": ["</draft>"],
        "messages": [{"role": "system", "content": "You draft replies."},
                     {"role": "user", "content": "My headache is back."}],
    }


async def test_completion_mode(api: respx.MockRouter, llm: OpenAIBackend) -> None:
    route = api.post("/completions").respond(json=completion_body())
    result = await llm.complete(COMPLETION)

    assert (result.text, result.model, result.usage) == (" Thank you for writing.", "base-m", Usage(30, 5))
    assert sent(route) == {"model": "m", "prompt": "Patient: My headache is back.\nReply:", "max_tokens": 120,
                           "temperature": 0.0, "stop": ["\nPatient:"]}


async def test_no_stop_sequences_are_not_sent(api: respx.MockRouter, llm: OpenAIBackend) -> None:
    route = api.post("/chat/completions").respond(json=chat_body())
    await llm.complete(LLMRequest(mode="chat", messages=(ChatMessage("user", "hi"),)))
    assert "stop" not in sent(route)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}, Usage(3, 4)),
        ({}, Usage(0, 0)),  # some OpenAI-compatible servers send an empty or partial usage object
        ({"prompt_tokens": None, "completion_tokens": 2}, Usage(0, 2)),
    ],
)
async def test_usage_is_always_counted_in_ints(api: respx.MockRouter, llm: OpenAIBackend,
                                               usage: dict[str, Any], expected: Usage) -> None:
    api.post("/chat/completions").respond(json=chat_body(usage=usage))
    result = await llm.complete(CHAT)
    assert result.usage == expected
    assert result.usage.total_tokens == expected.prompt_tokens + expected.completion_tokens


@pytest.mark.parametrize(("finish_reason", "expected"), [("stop", "stop"), ("length", "length"), (None, "stop"),
                                                          ("tool_calls", "other")])
async def test_finish_reason(api: respx.MockRouter, llm: OpenAIBackend, finish_reason: str | None,
                             expected: str) -> None:
    api.post("/chat/completions").respond(json=chat_body(finish_reason=finish_reason))
    assert (await llm.complete(CHAT)).finish_reason == expected


# -- complete: unusable answers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(200, json=chat_body("")), "empty"),
        (httpx.Response(200, json=chat_body("  \n\t ")), "empty"),
        (httpx.Response(200, json=chat_body(None)), "empty"),
        (httpx.Response(200, json=chat_body(5)), "empty"),  # not text at all
        (httpx.Response(200, json=chat_body("Sorry", finish_reason="content_filter")), "content_filter"),
        (httpx.Response(200, json=chat_body(None, finish_reason="content_filter")), "content_filter"),
        (httpx.Response(200, json={**chat_body(), "choices": []}), "no_choices"),
        (httpx.Response(200, json={"id": "x", "object": "chat.completion"}), "no_choices"),
        (httpx.Response(200, json=[1, 2]), "no_choices"),
        (httpx.Response(200, json={**chat_body(), "choices": [{"index": 0}]}), "empty"),  # a choice without message
    ],
    ids=["empty", "whitespace", "null", "number", "filtered", "filtered-null", "no-choices", "no-choices-key",
         "json-list", "no-message"],
)
async def test_unusable_reply_is_a_response_error(api: respx.MockRouter, llm: OpenAIBackend,
                                                  response: httpx.Response, reason: str) -> None:
    route = api.post("/chat/completions").mock(return_value=response)
    with pytest.raises(LLMResponseError) as caught:
        await llm.complete(CHAT)
    assert caught.value.details["reason"] == reason
    assert route.call_count == 1  # a bad answer is not retried: the same prompt would get the same answer


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, headers={"content-type": "application/json"}, content=b"{not json"),
        httpx.Response(200, headers={"content-type": "application/json"}, content=b""),
    ],
    ids=["malformed", "empty-body"],
)
async def test_malformed_json_is_a_response_error(api: respx.MockRouter, llm: OpenAIBackend,
                                                  response: httpx.Response) -> None:
    api.post("/chat/completions").mock(return_value=response)
    with pytest.raises(LLMResponseError, match="could not read"):
        await llm.complete(CHAT)


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "expected_wait"), [({"retry-after": "7"}, 7.0), ({"retry-after-ms": "2500"}, 2.5)])
async def test_429_waits_as_asked_then_succeeds(api: respx.MockRouter, llm: OpenAIBackend, sleeps: list[float],
                                                headers: dict[str, str], expected_wait: float) -> None:
    route = api.post("/chat/completions").mock(side_effect=[error(429, headers), httpx.Response(200, json=chat_body())])
    result = await llm.complete(CHAT)

    assert route.call_count == 2
    assert result.attempts == 2
    assert sleeps == [expected_wait]  # max_wait_s is 2 s, yet the server's longer ask is honoured


@pytest.mark.parametrize("status", RETRYABLE)
async def test_retryable_status_is_retried(api: respx.MockRouter, make_backend: MakeBackend, sleeps: list[float],
                                           status: int) -> None:
    route = api.post("/chat/completions").mock(side_effect=[error(status), httpx.Response(200, json=chat_body())])
    result = await make_backend(max_attempts=2).complete(CHAT)
    assert (route.call_count, result.attempts, len(sleeps)) == (2, 2, 1)


@pytest.mark.parametrize("status", RETRYABLE)
async def test_retryable_status_until_attempts_run_out(api: respx.MockRouter, make_backend: MakeBackend,
                                                       sleeps: list[float], status: int) -> None:
    route = api.post("/chat/completions").mock(return_value=error(status))
    with pytest.raises(LLMUnavailableError) as caught:
        await make_backend(max_attempts=4).complete(CHAT)

    assert route.call_count == 4
    assert len(sleeps) == 3
    assert caught.value.details == {"attempts": 4, "upstream_status": status}
    assert "after 4 attempts" in caught.value.message
    assert caught.value.http_status == 503


@pytest.mark.parametrize(
    ("status", "hint"),
    [(400, "rejected the request"), (401, "DRAFTER_LLM_API_KEY"), (403, "DRAFTER_LLM_API_KEY"),
     (404, "DRAFTER_LLM_MODEL"), (422, "rejected the request")],
)
async def test_non_retryable_status_fails_at_once(api: respx.MockRouter, llm: OpenAIBackend, sleeps: list[float],
                                                  status: int, hint: str) -> None:
    route = api.post("/chat/completions").mock(return_value=error(status))
    with pytest.raises(LLMResponseError, match=hint) as caught:
        await llm.complete(CHAT)
    assert (route.call_count, sleeps) == (1, [])
    assert caught.value.details == {"attempts": 1, "upstream_status": status}


async def test_sdk_retries_are_off(api: respx.MockRouter, make_backend: MakeBackend) -> None:
    route = api.post("/chat/completions").mock(return_value=error(500))
    with pytest.raises(LLMUnavailableError):
        await make_backend(max_attempts=1).complete(CHAT)
    assert route.call_count == 1  # the SDK would retry a 500 twice by default


async def test_budget_stops_before_a_wait_it_cannot_afford(api: respx.MockRouter, make_backend: MakeBackend,
                                                           sleeps: list[float]) -> None:
    route = api.post("/chat/completions").mock(return_value=error(429, {"retry-after": "30"}))
    with pytest.raises(LLMUnavailableError) as caught:
        await make_backend(max_attempts=5, budget_s=10.0).complete(CHAT)

    assert route.call_count == 1  # waiting 30 s would overrun the 10 s budget, so we give up now
    assert sleeps == []
    assert caught.value.retry_after == 30.0  # and tell the caller when the server expects us back
    assert caught.value.details["attempts"] == 1


async def test_budget_allows_waits_that_fit(api: respx.MockRouter, make_backend: MakeBackend,
                                            sleeps: list[float]) -> None:
    route = api.post("/chat/completions").mock(side_effect=[error(503, {"retry-after": "4"}),
                                                            error(503, {"retry-after": "4"}),
                                                            httpx.Response(200, json=chat_body())])
    result = await make_backend(max_attempts=5, budget_s=10.0).complete(CHAT)
    assert (route.call_count, result.attempts, sleeps) == (3, 3, [4.0, 4.0])


@pytest.mark.parametrize(
    ("side_effect", "error_type", "http_status"),
    [
        (httpx.ReadTimeout, LLMTimeoutError, 504),
        (httpx.ConnectTimeout, LLMTimeoutError, 504),
        (httpx.ConnectError, LLMUnavailableError, 503),
        (httpx.RemoteProtocolError, LLMUnavailableError, 503),
    ],
)
async def test_transport_failures_are_retried_then_typed(api: respx.MockRouter, make_backend: MakeBackend,
                                                         side_effect: type[Exception], error_type: type[LLMError],
                                                         http_status: int) -> None:
    route = api.post("/chat/completions").mock(side_effect=side_effect)
    with pytest.raises(error_type) as caught:
        await make_backend(max_attempts=3).complete(CHAT)
    assert route.call_count == 3
    assert caught.value.details == {"attempts": 3}
    assert caught.value.http_status == http_status


async def test_timeout_then_success(api: respx.MockRouter, llm: OpenAIBackend) -> None:
    route = api.post("/chat/completions").mock(side_effect=[httpx.ReadTimeout("slow"),
                                                            httpx.Response(200, json=chat_body())])
    assert (await llm.complete(CHAT)).attempts == 2
    assert route.call_count == 2


# -- streaming ---------------------------------------------------------------------------------


async def test_stream_chat(api: respx.MockRouter, llm: OpenAIBackend) -> None:
    route = api.post("/chat/completions").mock(return_value=sse(
        chat_chunk(""), chat_chunk("Thank "), chat_chunk("you"), chat_chunk(None), chat_chunk(".", "stop"),
        usage_chunk(42, 3)))
    deltas, result = await drain(llm.stream(CHAT))

    assert deltas == ["Thank ", "you", "."]  # empty and missing pieces are not deltas
    assert (result.text, result.usage, result.finish_reason, result.attempts, result.model) == (
        "Thank you.", Usage(42, 3), "stop", 1, "m-2025-01-01")
    body = sent(route)
    assert (body["stream"], body["stream_options"], body["messages"][1]["content"]) == (
        True, {"include_usage": True}, "My headache is back.")


async def test_stream_completion(api: respx.MockRouter, llm: OpenAIBackend) -> None:
    route = api.post("/completions").mock(return_value=sse(
        completion_chunk(" Thank"), completion_chunk(" you."), completion_chunk("", "length"),
        usage_chunk(30, 2, obj="text_completion")))
    deltas, result = await drain(llm.stream(COMPLETION))

    assert deltas == [" Thank", " you."]
    assert (result.text, result.usage, result.finish_reason) == (" Thank you.", Usage(30, 2), "length")
    body = sent(route)
    assert (body["prompt"], body["stop"], body["stream"]) == (COMPLETION.prompt, ["\nPatient:"], True)


@pytest.mark.parametrize(
    ("events", "usage"),
    [
        ((chat_chunk("Hel"), chat_chunk("lo."), usage_chunk(9, 2)), Usage(9, 2)),
        ((chat_chunk("Hel"), chat_chunk(""), chat_chunk("lo.", "stop")), Usage(0, 2)),  # one token per text chunk
        ((chat_chunk("Hel"), chat_chunk("lo."), usage_chunk(None, None)), Usage(0, 0)),
    ],
    ids=["reported", "not-reported", "nulls"],
)
async def test_stream_usage(api: respx.MockRouter, llm: OpenAIBackend, events: tuple[dict[str, Any], ...],
                            usage: Usage) -> None:
    # Servers that ignore stream_options.include_usage (llama.cpp) get an estimate from the chunks.
    api.post("/chat/completions").mock(return_value=sse(*events))
    _, result = await drain(llm.stream(CHAT))
    assert result.usage == usage


async def test_stream_open_is_retried(api: respx.MockRouter, llm: OpenAIBackend, sleeps: list[float]) -> None:
    route = api.post("/chat/completions").mock(side_effect=[
        error(500), error(429, {"retry-after": "1"}), sse(chat_chunk("Hello."), usage_chunk(1, 1))])
    deltas, result = await drain(llm.stream(CHAT))
    assert (deltas, result.attempts, route.call_count) == (["Hello."], 3, 3)
    assert len(sleeps) == 2
    assert sleeps[1] >= 1.0  # the 429's Retry-After: 1


async def test_stream_open_gives_up(api: respx.MockRouter, make_backend: MakeBackend) -> None:
    route = api.post("/chat/completions").mock(return_value=error(503))
    with pytest.raises(LLMUnavailableError):
        await drain(make_backend(max_attempts=2).stream(CHAT))
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ((), "empty"),
        ((chat_chunk(" "), chat_chunk("\n", "stop")), "empty"),
        ((chat_chunk("Sorry"), chat_chunk(None, "content_filter")), "content_filter"),
    ],
    ids=["no-chunks", "whitespace", "filtered"],
)
async def test_stream_unusable_reply(api: respx.MockRouter, llm: OpenAIBackend, events: tuple[dict[str, Any], ...],
                                     reason: str) -> None:
    api.post("/chat/completions").mock(return_value=sse(*events))
    with pytest.raises(LLMResponseError) as caught:
        await drain(llm.stream(CHAT))
    assert caught.value.details["reason"] == reason


async def test_stream_broken_midway_is_typed(api: respx.MockRouter, llm: OpenAIBackend) -> None:
    body = sse_bytes(chat_chunk("Hel")).replace(b"data: [DONE]\n\n", b"") + b"data: {broken\n\n"
    api.post("/chat/completions").mock(return_value=httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=body))
    with pytest.raises(LLMResponseError, match="could not read"):
        await drain(llm.stream(CHAT))


class TrackedBody(httpx.AsyncByteStream):
    """A streamed response body that remembers whether it was closed."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for line in self.content.splitlines(keepends=True):
            yield line

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize("consume", ["all", "first-delta"])
async def test_stream_releases_the_connection(api: respx.MockRouter, llm: OpenAIBackend, consume: str) -> None:
    # A client that disconnects mid-draft stops the generator early; the HTTP response must still be closed,
    # or every abandoned stream keeps a pooled connection busy.
    body = TrackedBody(sse_bytes(chat_chunk("Thank "), chat_chunk("you."), usage_chunk(1, 2)))
    api.post("/chat/completions").mock(return_value=httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=body))
    stream = llm.stream(CHAT)
    if consume == "all":
        await drain(stream)
    else:
        assert await anext(stream) == Delta("Thank ")
        await stream.aclose()  # type: ignore[attr-defined]
    assert body.closed


# -- ping --------------------------------------------------------------------------------------


async def test_ping_ok(api: respx.MockRouter, llm: OpenAIBackend) -> None:
    route = api.get("/models").respond(json={"object": "list", "data": [{"id": "m", "object": "model",
                                                                        "created": 0, "owned_by": "me"}]})
    await llm.ping()
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("mock", "error_type", "hint"),
    [
        ({"side_effect": httpx.ConnectError}, LLMUnavailableError, "DRAFTER_LLM_BASE_URL"),
        ({"side_effect": httpx.ReadTimeout}, LLMTimeoutError, "in time"),
        ({"return_value": error(401)}, LLMResponseError, "DRAFTER_LLM_API_KEY"),
        ({"return_value": error(503)}, LLMUnavailableError, "HTTP 503"),
    ],
    ids=["refused", "timeout", "unauthorised", "unavailable"],
)
async def test_ping_failures(api: respx.MockRouter, llm: OpenAIBackend, sleeps: list[float],
                             mock: dict[str, Any], error_type: type[LLMError], hint: str) -> None:
    route = api.get("/models").mock(**mock)
    with pytest.raises(error_type, match=hint):
        await llm.ping()
    assert (route.call_count, sleeps) == (1, [])  # a health check answers now; it never retries


# -- properties --------------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "name"), [("Local", "Local"), (None, "gpt-x")])
async def test_name_and_mode(label: str | None, name: str) -> None:
    backend = OpenAIBackend(base_url=BASE, api_key=None, model="gpt-x", prompt_mode="completion", label=label)
    assert (backend.name, backend.model, backend.prompt_mode) == (name, "gpt-x", "completion")
    await backend.aclose()

