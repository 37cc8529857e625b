"""The drafting pipeline as a LangChain `Runnable`, so LangChain and LangGraph code can compose it.

    runnable = as_runnable(services.pipeline)
    draft = await runnable.ainvoke("My headache is back.")          # -> DraftOut
    async for piece in runnable.astream(request):                    # -> str tokens, then one DraftOut
        ...

Typing: a `Runnable` has one output type for invoke and stream alike, and `astream` here yields token `str`s
before the final `DraftOut`, so the declared output is `DraftOut | str`. `invoke`/`ainvoke` narrow their return
type to `DraftOut` (return types may narrow in an override), so callers who hold a `DraftingRunnable` get the
precise type; code that only sees a generic `Runnable` sees the union, which is what `astream` really yields.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ValidationError

from drafter.api.schemas import DraftOut
from drafter.domain import DraftRequest
from drafter.errors import InputError
from drafter.llm.base import Delta
from drafter.pipeline import Pipeline

DraftInput = DraftRequest | dict[str, Any] | str
DraftOutput = DraftOut | str


def to_request(value: DraftInput) -> DraftRequest:
    """A DraftRequest from a DraftRequest, a dict in its shape, or the bare message text."""
    if isinstance(value, DraftRequest):
        return value
    if not isinstance(value, str | dict):  # a programming error, not a bad request
        raise TypeError(f"A draft request is a DraftRequest, a dict or the message text, not {type(value).__name__}.")
    try:
        return DraftRequest.model_validate({"message": {"text": value}} if isinstance(value, str) else value)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["msg"]}
                    for err in exc.errors()]
        raise InputError(f"The draft request is invalid: {problems[0]['field']}: {problems[0]['problem']}.",
                         details={"errors": problems}) from exc


class DraftingRunnable(Runnable[DraftInput, DraftOutput]):
    """Drafts a reply: `ainvoke` returns the stored `DraftOut`; `astream` yields `str` tokens, then the `DraftOut`.

    Every call stores a draft exactly as the API does, with `source`/`actor` recording where it came from.
    Pipeline errors (`drafter.errors.DrafterError`) propagate unchanged; a failed LLM call still stores the
    failed draft first, and its id is in `error.details["draft_id"]`.
    """

    def __init__(self, pipeline: Pipeline, *, source: str = "langchain", actor: str = "langchain") -> None:
        self.pipeline = pipeline
        self.source = source
        self.actor = actor

    async def _draft(self, value: DraftInput) -> DraftOut:
        row = await self.pipeline.draft(to_request(value), source=self.source, actor=self.actor)
        return DraftOut.from_row(row)

    async def _stream(self, inputs: AsyncIterator[DraftInput]) -> AsyncIterator[DraftOutput]:
        async for value in inputs:  # astream feeds exactly one input
            async for event in self.pipeline.stream(to_request(value), source=self.source, actor=self.actor):
                yield event.text if isinstance(event, Delta) else DraftOut.from_row(event)

    async def ainvoke(self, input: DraftInput, config: RunnableConfig | None = None, **kwargs: Any) -> DraftOut:
        """Draft one reply and return the stored draft."""
        # Through LangChain's helper so callbacks, tracing and run names work as for any other Runnable.
        out = await self._acall_with_config(self._draft, input, config, run_type="chain")
        return cast(DraftOut, out)  # `_draft` returns DraftOut; the helper is typed with the class's wider output

    def invoke(self, input: DraftInput, config: RunnableConfig | None = None, **kwargs: Any) -> DraftOut:
        """Draft one reply from synchronous code (runs its own event loop)."""
        # Each call runs on a new event loop. Fine for SQLite; an asyncpg pool holds connections bound to the
        # loop that opened them, so PostgreSQL-backed services should be driven through ainvoke.
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ainvoke(input, config))
        # Checked before creating the coroutine: blocking here would deadlock the loop the pipeline needs.
        raise RuntimeError("DraftingRunnable.invoke() was called from a running event loop; "
                           "use `await runnable.ainvoke(...)` instead.")

    async def astream(self, input: DraftInput, config: RunnableConfig | None = None,
                      **kwargs: Any | None) -> AsyncIterator[DraftOutput]:
        """Yield the model's text as `str` pieces as they arrive, then the stored `DraftOut` last."""

        async def once() -> AsyncIterator[DraftInput]:
            yield input

        async for chunk in self._atransform_stream_with_config(once(), self._stream, config, run_type="chain"):
            yield chunk


def as_runnable(pipeline: Pipeline, *, source: str = "langchain", actor: str = "langchain") -> DraftingRunnable:
    """The pipeline as a LangChain Runnable."""
    return DraftingRunnable(pipeline, source=source, actor=actor)
