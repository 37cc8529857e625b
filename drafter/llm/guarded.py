"""Any LLM behind the concurrency cap and the circuit breaker; the pipeline talks to this wrapper."""

from __future__ import annotations

from collections.abc import AsyncIterator

from drafter.llm.base import LLM, LLMRequest, LLMResult, PromptMode, StreamEvent
from drafter.llm.breaker import CircuitBreaker
from drafter.llm.limiter import ConcurrencyLimit


class GuardedLLM:
    """Fails fast while the breaker is open, then waits for a slot, then calls the backend and records the outcome."""

    def __init__(self, inner: LLM, *, breaker: CircuitBreaker, limit: ConcurrencyLimit) -> None:
        self.inner, self.breaker, self.limit = inner, breaker, limit

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def prompt_mode(self) -> PromptMode:
        return self.inner.prompt_mode

    async def complete(self, request: LLMRequest) -> LLMResult:
        """One generation through the cap and the breaker."""
        self.breaker.check()  # an open circuit refuses before queueing for a slot
        async with self.limit.slot():
            with self.breaker.call():
                return await self.inner.complete(request)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """Stream through the cap and the breaker; the slot is held until the stream ends."""
        self.breaker.check()
        async with self.limit.slot():
            with self.breaker.call():
                async for event in self.inner.stream(request):
                    yield event

    async def ping(self) -> None:
        """The backend's own reachability check (not counted by the breaker)."""
        await self.inner.ping()
