"""Completions cached by hash(prompt, model, parameters), so re-scoring a run or resuming it costs no model calls.

`CachingLLM` wraps any backend behind the same LLM protocol the pipeline uses: the pipeline does not know it
is being evaluated. The cache is a JSON Lines file (one completion per line, appended as they arrive), read
whole at start; a line cut short by an interrupted run is skipped.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from drafter.llm.base import LLM, LLMRequest, LLMResult, PromptMode, StreamEvent, Usage

# Set by CachingLLM.complete in the caller's task: the runner reads it to mark a case as served from the cache.
last_hit: contextvars.ContextVar[bool] = contextvars.ContextVar("eval_cache_hit", default=False)


def cache_key(request: LLMRequest, model: str) -> str:
    """SHA-256 over the exact prompt, the model and every generation parameter."""
    # Fields by hand rather than dataclasses.asdict, which deep-copies the whole prompt (seen in the bench profile).
    payload = json.dumps([model, request.mode, [[m.role, m.content] for m in request.messages], request.prompt,
                          request.max_tokens, request.temperature, list(request.stop)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _result_to_json(result: LLMResult) -> dict[str, Any]:
    return {"text": result.text, "model": result.model, "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens, "finish_reason": result.finish_reason,
            "attempts": result.attempts, "latency_s": result.latency_s}


def _result_from_json(row: dict[str, Any]) -> LLMResult:
    return LLMResult(text=row["text"], model=row["model"], usage=Usage(row["prompt_tokens"], row["completion_tokens"]),
                     finish_reason=row["finish_reason"], attempts=row["attempts"], latency_s=row["latency_s"])


def open_for_append(path: Path) -> IO[str]:
    """Open a JSON Lines file for appending, first dropping a last line an interrupted writer left unfinished
    (appending after it would glue the next record onto the fragment and lose both)."""
    if path.exists():
        with path.open("rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)
    return path.open("a", encoding="utf-8")


class CompletionCache:
    """key -> LLMResult, persisted as appended JSON lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, LLMResult] = {}
        self.hits = 0
        self.misses = 0
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._entries[row["key"]] = _result_from_json(row["result"])
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by an interrupted run: that completion is simply asked again
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> LLMResult | None:
        """The cached result, counting the hit or miss."""
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: str, result: LLMResult) -> None:
        """Remember and persist one completion."""
        self._entries[key] = result
        if self._handle is None:
            self._handle = open_for_append(self.path)
        self._handle.write(json.dumps({"key": key, "result": _result_to_json(result)}, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file (entries stay readable in memory)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class CachingLLM:
    """An LLM that answers from the cache when it has seen the exact request for this model before."""

    def __init__(self, inner: LLM, cache: CompletionCache, *, model: str) -> None:
        self.inner, self.cache, self.model = inner, cache, model

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def prompt_mode(self) -> PromptMode:
        return self.inner.prompt_mode

    async def complete(self, request: LLMRequest) -> LLMResult:
        """The cached completion, or the inner backend's (then cached)."""
        key = cache_key(request, self.model)
        cached = self.cache.get(key)
        if cached is not None:
            last_hit.set(True)
            return cached
        last_hit.set(False)
        started = time.perf_counter()
        result = await self.inner.complete(request)
        if not result.latency_s:
            result = LLMResult(text=result.text, model=result.model, usage=result.usage,
                               finish_reason=result.finish_reason, attempts=result.attempts,
                               latency_s=time.perf_counter() - started)
        self.cache.put(key, result)
        return result

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """Evals do not stream: the whole completion comes as one final event."""
        yield await self.complete(request)

    async def ping(self) -> None:
        """Ask the inner backend."""
        await self.inner.ping()
