"""Any LangChain chat model as a drafting backend (Anthropic, Bedrock, Ollama, ... via their LangChain packages)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage, SystemMessage

from drafter.errors import LLMError, LLMResponseError, LLMUnavailableError
from drafter.llm.base import Delta, FinishReason, LLMRequest, LLMResult, PromptMode, StreamEvent, Usage


def _to_messages(request: LLMRequest) -> list[AnyMessage]:
    if request.mode == "completion":
        return [HumanMessage(request.prompt)]
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](m.content) for m in request.messages]


def _usage(message: AIMessage) -> Usage:
    meta = message.usage_metadata
    return Usage(meta["input_tokens"], meta["output_tokens"]) if meta else Usage()


def _text(message: AIMessage) -> str:
    # `.text` is LangChain's callable str subclass (TextAccessor); hand the rest of drafter a plain str.
    return str(message.text)


def _finish(message: AIMessage) -> FinishReason:
    return "length" if message.response_metadata.get("finish_reason") == "length" else "stop"


def _model_name(model: BaseChatModel) -> str:
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return model._llm_type


class LangChainBackend:
    """Adapts a `BaseChatModel` to the LLM protocol; the model's own retry settings apply."""

    def __init__(self, model: BaseChatModel) -> None:
        self._model = model

    @property
    def name(self) -> str:
        return f"langchain:{_model_name(self._model)}"

    @property
    def prompt_mode(self) -> PromptMode:
        return "chat"

    async def complete(self, request: LLMRequest) -> LLMResult:
        """Invoke the chat model once."""
        started = time.perf_counter()
        try:
            reply = await self._model.ainvoke(_to_messages(request), stop=list(request.stop) or None)
        except LLMError:
            raise
        except Exception as exc:
            raise LLMUnavailableError(f"The LangChain model failed: {type(exc).__name__}.") from exc
        text = _text(reply)
        if not text.strip():
            raise LLMResponseError("The language model returned an empty reply.", details={"reason": "empty"})
        return LLMResult(text=text, model=_model_name(self._model), usage=_usage(reply), finish_reason=_finish(reply),
                         latency_s=time.perf_counter() - started)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """Stream the chat model's chunks as deltas, then one final result."""
        started = time.perf_counter()
        merged: AIMessageChunk | None = None
        try:
            async for chunk in self._model.astream(_to_messages(request), stop=list(request.stop) or None):
                merged = chunk if merged is None else merged + chunk
                if piece := _text(chunk):
                    yield Delta(piece)
        except LLMError:
            raise
        except Exception as exc:
            raise LLMUnavailableError(f"The LangChain model failed: {type(exc).__name__}.") from exc
        text = _text(merged) if merged else ""
        if merged is None or not text.strip():
            raise LLMResponseError("The language model returned an empty reply.", details={"reason": "empty"})
        # Merged chunks carry the provider's finish_reason too; dropping it would hide truncated drafts when streaming.
        yield LLMResult(text=text, model=_model_name(self._model), usage=_usage(merged), finish_reason=_finish(merged),
                        latency_s=time.perf_counter() - started)

    async def ping(self) -> None:
        """LangChain models have no cheap health call; constructing one means it is configured."""
        return
