"""LangChainBackend driven by langchain-core's own fake chat models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage

from drafter.errors import LLMError, LLMResponseError, LLMTimeoutError, LLMUnavailableError
from drafter.llm.base import LLM, ChatMessage, Delta, LLMRequest, LLMResult, StreamEvent, Usage
from drafter.llm.langchain_backend import LangChainBackend

pytestmark = pytest.mark.anyio

REQUEST = LLMRequest(
    mode="chat",
    messages=(ChatMessage("system", "You draft replies."), ChatMessage("user", "My headache is back."),
              ChatMessage("assistant", "I am sorry to hear that."), ChatMessage("user", "It is worse today.")),
    stop=("</draft>",),
)


def replies(*items: AIMessage | str) -> GenericFakeChatModel:
    """A chat model that answers with these messages in order (streaming splits them on whitespace)."""
    return GenericFakeChatModel(messages=iter(items))


def failing(exc: BaseException) -> GenericFakeChatModel:
    """A chat model whose provider call raises `exc`."""

    def boom() -> Iterator[AIMessage]:
        raise exc
        yield AIMessage("unreachable")  # makes this a generator, so the error comes on the model call

    return GenericFakeChatModel(messages=boom())


REPLY = AIMessage("Thank you for writing.", response_metadata={"finish_reason": "stop"},
                  usage_metadata={"input_tokens": 40, "output_tokens": 5, "total_tokens": 45})


class Recorder(BaseCallbackHandler):
    """Captures what the chat model was asked, as LangChain reports it to callbacks."""

    def __init__(self) -> None:
        self.messages: list[BaseMessage] = []
        self.stop: list[str] | None = None

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *, run_id: UUID,
                            **kwargs: Any) -> None:
        self.messages = messages[0]
        self.stop = kwargs["invocation_params"].get("stop")


async def stream_all(backend: LangChainBackend, request: LLMRequest = REQUEST) -> tuple[list[str], LLMResult]:
    events = [event async for event in backend.stream(request)]
    *deltas, final = events
    assert all(isinstance(d, Delta) for d in deltas)
    assert isinstance(final, LLMResult)
    return [d.text for d in deltas if isinstance(d, Delta)], final


async def complete(backend: LangChainBackend, request: LLMRequest = REQUEST) -> LLMResult:
    return await backend.complete(request)


Call = Callable[[LangChainBackend], Awaitable[object]]


def test_is_an_llm() -> None:
    backend = LangChainBackend(replies("x"))
    assert isinstance(backend, LLM)
    assert backend.prompt_mode == "chat"


class NamedModel(GenericFakeChatModel):
    model_name: str = "claude-test"


@pytest.mark.parametrize(
    ("model", "name"),
    [(replies("x"), "langchain:generic-fake-chat-model"), (NamedModel(messages=iter(["x"])), "langchain:claude-test")],
)
def test_name(model: BaseChatModel, name: str) -> None:
    assert LangChainBackend(model).name == name


# -- complete ----------------------------------------------------------------------------------


async def test_complete() -> None:
    result = await LangChainBackend(FakeMessagesListChatModel(responses=[REPLY])).complete(REQUEST)
    assert (result.text, result.usage, result.finish_reason, result.attempts) == (
        "Thank you for writing.", Usage(40, 5), "stop", 1)
    assert result.model == "fake-messages-list-chat-model"
    assert type(result.text) is str  # not LangChain's callable TextAccessor


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({"finish_reason": "length"}, "length"), ({"finish_reason": "stop"}, "stop"), ({}, "stop")],
)
async def test_complete_finish_reason(metadata: dict[str, Any], expected: str) -> None:
    model = FakeMessagesListChatModel(responses=[AIMessage("Partial reply", response_metadata=metadata)])
    assert (await LangChainBackend(model).complete(REQUEST)).finish_reason == expected


async def test_complete_reads_content_blocks() -> None:
    reply = AIMessage(content=[{"type": "text", "text": "Thank you "}, {"type": "text", "text": "for writing."}])
    result = await LangChainBackend(FakeMessagesListChatModel(responses=[reply])).complete(REQUEST)
    assert result.text == "Thank you for writing."
    assert type(result.text) is str


@pytest.mark.parametrize("text", ["", "   \n "])
async def test_complete_empty_reply(text: str) -> None:
    with pytest.raises(LLMResponseError) as caught:
        await LangChainBackend(replies(text)).complete(REQUEST)
    assert caught.value.details["reason"] == "empty"


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ConnectionError("refused"), LLMUnavailableError),
        (RuntimeError("provider exploded"), LLMUnavailableError),
        (LLMTimeoutError("already typed"), LLMTimeoutError),  # drafter's own errors pass through unchanged
    ],
)
@pytest.mark.parametrize("call", [complete, stream_all], ids=["complete", "stream"])
async def test_model_failure(raised: BaseException, expected: type[LLMError], call: Call) -> None:
    with pytest.raises(expected) as caught:
        await call(LangChainBackend(failing(raised)))
    assert caught.value is raised or caught.value.__cause__ is raised


# -- stream ------------------------------------------------------------------------------------


async def test_stream() -> None:
    deltas, result = await stream_all(LangChainBackend(replies("Thank you for writing.")))
    assert deltas == ["Thank", " ", "you", " ", "for", " ", "writing."]
    assert (result.text, result.finish_reason, result.model) == (
        "Thank you for writing.", "stop", "generic-fake-chat-model")
    assert type(result.text) is str
    assert all(type(d) is str for d in deltas)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({"finish_reason": "length"}, "length"), ({"finish_reason": "stop"}, "stop"), ({}, "stop")],
)
async def test_stream_finish_reason_and_usage(metadata: dict[str, Any], expected: str) -> None:
    # The pipeline blocks a truncated draft on finish_reason == "length"; streaming must report it like complete.
    reply = AIMessage("Partial reply", response_metadata=metadata,
                      usage_metadata={"input_tokens": 9, "output_tokens": 2, "total_tokens": 11})
    deltas, result = await stream_all(LangChainBackend(FakeMessagesListChatModel(responses=[reply])))
    assert deltas == ["Partial reply"]
    assert (result.finish_reason, result.usage) == (expected, Usage(9, 2))


async def test_stream_whitespace_reply() -> None:
    with pytest.raises(LLMResponseError) as caught:
        await stream_all(LangChainBackend(replies("  \n ")))
    assert caught.value.details["reason"] == "empty"


async def test_stream_error_midway() -> None:
    backend = LangChainBackend(FakeListChatModel(responses=["Thank you"], error_on_chunk_number=3))
    seen: list[StreamEvent] = []

    async def read() -> None:
        async for event in backend.stream(REQUEST):
            seen.append(event)

    with pytest.raises(LLMUnavailableError, match="FakeListChatModelError"):
        await read()
    assert seen == [Delta("T"), Delta("h"), Delta("a")]  # what arrived before the failure was passed on


# -- request conversion ------------------------------------------------------------------------


@pytest.mark.parametrize("call", [complete, stream_all], ids=["complete", "stream"])
async def test_request_is_converted(call: Call) -> None:
    recorder = Recorder()
    await call(LangChainBackend(GenericFakeChatModel(messages=iter(["Okay."]), callbacks=[recorder])))

    assert [(m.type, m.content) for m in recorder.messages] == [
        ("system", "You draft replies."), ("human", "My headache is back."),
        ("ai", "I am sorry to hear that."), ("human", "It is worse today."),
    ]
    assert recorder.stop == ["</draft>"]


@pytest.mark.parametrize(
    ("request_", "messages", "stop"),
    [
        (LLMRequest(mode="completion", prompt="Patient: hi\nReply:"), [("human", "Patient: hi\nReply:")], None),
        (LLMRequest(mode="chat", messages=(ChatMessage("user", "hi"),)), [("human", "hi")], None),
    ],
    ids=["completion-prompt", "no-stop"],
)
async def test_request_edge_cases(request_: LLMRequest, messages: list[tuple[str, str]],
                                  stop: list[str] | None) -> None:
    recorder = Recorder()
    await LangChainBackend(GenericFakeChatModel(messages=iter(["Okay."]), callbacks=[recorder])).complete(request_)
    assert [(m.type, m.content) for m in recorder.messages] == messages
    assert recorder.stop == stop


async def test_ping_is_a_no_op() -> None:
    await LangChainBackend(replies()).ping()
