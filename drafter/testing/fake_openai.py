"""A fake OpenAI-compatible server on loopback, for benchmarks and fault-injection tests.

It speaks just enough of the API (chat and legacy completions, streamed or not, and the model list) for the
openai SDK, with a fixed latency and a reply of a chosen length. Faults are queued per request, so a test can
script "429 twice, then succeed" and watch the retry policy, the circuit breaker and the fallback at work:

    with FakeOpenAIServer(latency_s=0.05) as server:
        server.enqueue(Fault.RATE_LIMITED, Fault.RATE_LIMITED)
        settings = Settings(llm_base_url=server.base_url, llm_api_key="k", ...)

Benchmarks run it in its own process so it does not share a GIL with what it measures, and read its counters
from GET /stats (requests, completions served whole, model waits in flight now and at most; POST /stats/reset
zeroes them):

    python -m drafter.testing.fake_openai --port 8999 --latency-ms 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_REPLY = (
    "Thank you for letting us know how you are feeling. I understand this has been worrying for you. "
    "Based on what you describe, it would help to talk this through together. Please call the clinic to set up "
    "a visit this week, and reply here if anything changes or you have more questions before then."
)


class Fault(StrEnum):
    """What the server does wrong on one request."""

    RATE_LIMITED = "429"  # 429 with Retry-After
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    HANG = "hang"  # sleeps far past any sane client timeout
    DROP_STREAM = "drop_stream"  # streams part of the reply, then drops the connection (non-streamed: drops at once)
    INVALID_JSON = "invalid_json"
    EMPTY_CHOICES = "empty_choices"
    ENORMOUS = "enormous"  # a 2 MB reply


@dataclass
class FakeOpenAIState:
    """Configuration and counters shared between the server and the test that drives it."""

    latency_s: float = 0.0
    reply: str = DEFAULT_REPLY
    words: int | None = None  # when set, the reply is this many words (benchmarks vary the completion length)
    chunk_delay_s: float = 0.0  # pause between streamed chunks
    retry_after_s: float = 1.0
    hang_s: float = 3600.0
    model: str = "fake-model"
    faults: deque[Fault] = field(default_factory=deque)
    default_fault: Fault | None = None
    requests: int = 0
    completions: int = 0  # replies served whole (a fault, or a stream cut short, is not one)
    in_flight: int = 0  # requests waiting out the latency right now
    peak_in_flight: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    keep_bodies: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, body: dict[str, Any]) -> Fault | None:
        with self._lock:
            self.requests += 1
            if self.keep_bodies:
                self.bodies.append(body)
            return self.faults.popleft() if self.faults else self.default_fault

    def waiting(self, delta: int) -> None:
        with self._lock:
            self.in_flight += delta
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def completed(self) -> None:
        with self._lock:
            self.completions += 1

    def stats(self) -> dict[str, int]:
        """The counters GET /stats returns."""
        with self._lock:
            return {"requests": self.requests, "completions": self.completions, "in_flight": self.in_flight,
                    "peak_in_flight": self.peak_in_flight}

    def reset_stats(self) -> None:
        with self._lock:
            self.requests = self.completions = 0
            self.peak_in_flight = self.in_flight

    def text(self) -> str:
        if self.words is None:
            return self.reply
        base = self.reply.split()
        return " ".join(base[i % len(base)] for i in range(self.words))


def _pieces(text: str) -> list[str]:
    """Split a reply the way a tokenizer-driven stream would: one word (with its leading space) per chunk."""
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = body.get("prompt") or " ".join(str(m.get("content", "")) for m in body.get("messages", []))
    prompt_tokens, completion_tokens = len(str(prompt).split()), len(text.split())
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "fake_error", "code": str(status)}},
                        status_code=status, headers=headers)


class _Dropped(Exception):
    """Raised inside a response to make uvicorn cut the connection."""


def create_fake_app(state: FakeOpenAIState) -> Starlette:
    """The ASGI app; `state` is read on every request, so a test may change it between calls."""

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": state.model, "object": "model", "owned_by": "fake"}]})

    async def generate(request: Request) -> Response:
        chat = request.url.path.endswith("/chat/completions")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Body is not JSON.")
        fault = state.next_fault(body)
        if fault is Fault.HANG:
            await asyncio.sleep(state.hang_s)
        if state.latency_s:
            state.waiting(+1)
            try:
                await asyncio.sleep(state.latency_s)
            finally:
                state.waiting(-1)
        if fault is Fault.RATE_LIMITED:
            return _error(429, "Rate limit reached.", {"retry-after": f"{state.retry_after_s:g}"})
        if fault is Fault.SERVER_ERROR:
            return _error(500, "Internal error.")
        if fault is Fault.UNAVAILABLE:
            return _error(503, "Overloaded.")
        if fault is Fault.INVALID_JSON:
            return Response('{"id": "x", "choices": [', media_type="application/json")
        text = "x" * 2_000_000 if fault is Fault.ENORMOUS else state.text()
        ident, created = f"fake-{state.requests}", int(time.time())
        kind = "chat.completion" if chat else "text_completion"
        if body.get("stream"):
            return StreamingResponse(_stream(state, body, text, chat=chat, fault=fault, ident=ident, created=created),
                                     media_type="text/event-stream")
        if fault is Fault.DROP_STREAM:
            raise _Dropped
        if fault is Fault.EMPTY_CHOICES:
            choices: list[dict[str, Any]] = []
        elif chat:
            choices = [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]
        else:
            choices = [{"index": 0, "finish_reason": "stop", "text": text, "logprobs": None}]
        if choices:
            state.completed()
        return JSONResponse({"id": ident, "object": kind, "created": created, "model": state.model,
                             "choices": choices, "usage": _usage(body, text)})

    async def stats(_: Request) -> Response:
        return JSONResponse(state.stats())

    async def reset_stats(_: Request) -> Response:
        state.reset_stats()
        return JSONResponse(state.stats())

    return Starlette(routes=[
        Route("/stats", stats, methods=["GET"]),
        Route("/stats/reset", reset_stats, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", generate, methods=["POST"]),
        Route("/v1/completions", generate, methods=["POST"]),
    ])


async def _stream(state: FakeOpenAIState, body: dict[str, Any], text: str, *, chat: bool, fault: Fault | None,
                  ident: str, created: int) -> AsyncIterator[bytes]:
    kind = "chat.completion.chunk" if chat else "text_completion"

    def event(choice: dict[str, Any] | None, usage: dict[str, int] | None = None) -> bytes:
        chunk = {"id": ident, "object": kind, "created": created, "model": state.model,
                 "choices": [choice] if choice else [], "usage": usage}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    if fault is Fault.EMPTY_CHOICES:
        yield event(None)
        yield b"data: [DONE]\n\n"
        return
    pieces = _pieces(text)
    for i, piece in enumerate(pieces):
        if fault is Fault.DROP_STREAM and i == max(1, len(pieces) // 2):
            raise _Dropped
        if chat:
            yield event({"index": 0, "delta": {"content": piece}, "finish_reason": None})
        else:
            yield event({"index": 0, "text": piece, "finish_reason": None})
        if state.chunk_delay_s:
            await asyncio.sleep(state.chunk_delay_s)
    final = {"index": 0, "delta": {}, "finish_reason": "stop"} if chat else {"index": 0, "text": "",
                                                                            "finish_reason": "stop"}
    yield event(final)
    if (body.get("stream_options") or {}).get("include_usage"):
        yield event(None, _usage(body, text))
    yield b"data: [DONE]\n\n"
    state.completed()


def free_port() -> int:
    """A port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FakeOpenAIServer:
    """Runs the fake server with uvicorn in a background thread, on its own event loop."""

    def __init__(self, *, port: int | None = None, **state: Any) -> None:
        self.state = FakeOpenAIState(**state)
        self.port = port or free_port()
        config = uvicorn.Config(create_fake_app(self.state), host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to give the openai SDK (it ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> int:
        """How many generation requests arrived."""
        return self.state.requests

    def enqueue(self, *faults: Fault | str) -> None:
        """Make the next requests fail this way, one fault per request, in order."""
        with self.state._lock:
            self.state.faults.extend(Fault(f) for f in faults)

    def set_default_fault(self, fault: Fault | str | None) -> None:
        """Fail every request (after the queued ones) this way; None restores normal replies."""
        self.state.default_fault = Fault(fault) if fault is not None else None

    def start(self) -> FakeOpenAIServer:
        """Start serving; returns once the port accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake OpenAI server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread (hung requests are cancelled)."""
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main(argv: Iterable[str] | None = None) -> None:
    """Serve in the foreground (for benchmarks that want the server in another process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--words", type=int, default=None, help="reply length in words (default: a fixed reply)")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    parser.add_argument("--fault", choices=[f.value for f in Fault], default=None, help="fail every request so")
    args = parser.parse_args(list(argv) if argv is not None else None)
    state = FakeOpenAIState(latency_s=args.latency_ms / 1000, words=args.words,
                            chunk_delay_s=args.chunk_delay_ms / 1000,
                            default_fault=Fault(args.fault) if args.fault else None, keep_bodies=False)
    uvicorn.run(create_fake_app(state), host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                lifespan="off")


if __name__ == "__main__":
    main()
