"""The small protocol the pipeline talks to; every backend (openai SDK, LangChain, fakes) implements it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

PromptMode = Literal["chat", "completion"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One generation: chat messages, or a single completion prompt for base models."""

    mode: PromptMode
    messages: tuple[ChatMessage, ...] = ()
    prompt: str = ""
    max_tokens: int = 350
    temperature: float = 0.3
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


FinishReason = Literal["stop", "length", "content_filter", "other"]


@dataclass(frozen=True, slots=True)
class LLMResult:
    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: FinishReason = "stop"
    attempts: int = 1
    latency_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of streamed text."""

    text: str


StreamEvent = Delta | LLMResult  # deltas, then exactly one final result


@runtime_checkable
class LLM(Protocol):
    """A text generator. `complete` returns one result; `stream` yields deltas then the final result."""

    @property
    def name(self) -> str: ...

    @property
    def prompt_mode(self) -> PromptMode: ...

    async def complete(self, request: LLMRequest) -> LLMResult: ...

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]: ...

    async def ping(self) -> None:
        """Raise an LLMError when the backend cannot serve requests."""
        ...
