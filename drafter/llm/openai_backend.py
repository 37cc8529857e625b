"""The default backend: the openai SDK against any OpenAI-compatible endpoint."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import openai
from httpx._utils import get_environment_proxies  # httpx's own reading of HTTP(S)_PROXY and NO_PROXY
from openai.types import Completion
from openai.types.chat import ChatCompletion
from tenacity import AsyncRetrying, RetryError, retry_if_exception, stop_after_attempt, stop_before_delay

from drafter.errors import ConfigError, LLMError, LLMResponseError, LLMTimeoutError, LLMUnavailableError
from drafter.llm.base import Delta, FinishReason, LLMRequest, LLMResult, PromptMode, StreamEvent, Usage
from drafter.llm.pool import pooled_transport
from drafter.llm.response_cap import ResponseCapTransport, own_error
from drafter.llm.retry import RetryPolicy, is_retryable, make_wait, retry_after_s

T = TypeVar("T")


def _finish(reason: str | None) -> FinishReason:
    return reason if reason in ("stop", "length", "content_filter") else "stop" if reason is None else "other"  # type: ignore[return-value]


def _usage(usage: object) -> Usage:
    """Token counts; OpenAI-compatible servers may omit or null them, which counts as 0 rather than None."""
    def count(name: str) -> int:
        value = getattr(usage, name, None)
        return value if isinstance(value, int) else 0

    return Usage(count("prompt_tokens"), count("completion_tokens"))


def translate_error(exc: BaseException, *, attempts: int) -> LLMError:
    """Turn an SDK/transport exception into the typed error the rest of drafter understands."""
    tried = f" after {attempts} attempt{'s' if attempts != 1 else ''}"
    if (own := own_error(exc)) is not None:  # ours, possibly wrapped by the SDK (e.g. a reply over the size cap)
        return own
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return LLMTimeoutError(f"The language model did not answer in time{tried}.", details={"attempts": attempts})
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return LLMUnavailableError(f"Cannot reach the language model endpoint{tried}; check DRAFTER_LLM_BASE_URL "
                                   "and that the server is running.", details={"attempts": attempts})
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        details = {"attempts": attempts, "upstream_status": status}
        if status == 429 or status >= 500 or status in (408, 409):
            return LLMUnavailableError(f"The language model endpoint is busy or failing (HTTP {status}){tried}.",
                                       retry_after=retry_after_s(exc), details=details)
        if status in (401, 403):
            return LLMResponseError(f"The language model endpoint refused our credentials (HTTP {status}); "
                                    "check DRAFTER_LLM_API_KEY.", details=details)
        if status == 404:
            return LLMResponseError("The language model endpoint does not know this model or path (HTTP 404); "
                                    "check DRAFTER_LLM_MODEL and DRAFTER_LLM_BASE_URL.", details=details)
        return LLMResponseError(f"The language model endpoint rejected the request (HTTP {status}).", details=details)
    return LLMResponseError(f"The language model sent a response we could not read ({type(exc).__name__}).",
                            details={"attempts": attempts})


# Loopback is never proxied: the embedded model and a local vLLM listen there, where no egress proxy can reach.
_LOOPBACK = ("all://127.0.0.1", "all://localhost", "all://[::1]")


def _proxy_mounts(transport: Callable[[str], httpx.AsyncBaseTransport]) -> dict[str, httpx.AsyncBaseTransport | None]:
    # httpx reads the environment's proxies only for a client without its own transport, so they are mounted here
    # (a NO_PROXY host maps to None: the client's direct transport).
    try:
        mounts = {pattern: None if proxy is None else transport(proxy)
                  for pattern, proxy in get_environment_proxies().items()}
    except (ValueError, ImportError) as exc:  # an unknown scheme; socks5:// without the socksio package
        raise ConfigError(f"The proxy in HTTP_PROXY, HTTPS_PROXY or ALL_PROXY cannot be used: {str(exc).rstrip('.')}. "
                          "Set an http:// or https:// proxy URL, or unset the variable.") from None
    if mounts:  # some proxy applies: keep loopback direct
        mounts.update(dict.fromkeys(_LOOPBACK))
    return mounts


def check_environment_proxies() -> None:
    """ConfigError now, before a server starts, if the environment names a proxy that cannot be used."""
    _proxy_mounts(lambda proxy: httpx.AsyncHTTPTransport(proxy=proxy))


def default_http_client(*, max_response_bytes: int | None) -> httpx.AsyncClient:
    """The SDK's default client on drafter's pool (drafter.llm.pool), with the size cap, when set, in front of the
    network, and the proxies of the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) as httpx reads them.
    """
    def transport(proxy: str | None = None) -> httpx.AsyncBaseTransport:
        pooled = pooled_transport(limits=openai.DEFAULT_CONNECTION_LIMITS, proxy=proxy)
        return pooled if max_response_bytes is None else ResponseCapTransport(pooled, limit=max_response_bytes)

    return openai.DefaultAsyncHttpxClient(transport=transport(), mounts=_proxy_mounts(transport))


class OpenAIBackend:
    """Chat or completion calls through `AsyncOpenAI`, with one retry policy and typed errors."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        prompt_mode: PromptMode = "chat",
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        label: str | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        if http_client is None:
            http_client = default_http_client(max_response_bytes=max_response_bytes)
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",  # local servers accept any key; the SDK insists on one
            max_retries=0,  # retries live in RetryPolicy only
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            http_client=http_client,
        )
        self._model = model
        self._mode: PromptMode = prompt_mode
        self._retry = retry or RetryPolicy()
        self._label = label or model

    @property
    def name(self) -> str:
        return self._label

    @property
    def model(self) -> str:
        return self._model

    @property
    def prompt_mode(self) -> PromptMode:
        return self._mode

    async def aclose(self) -> None:
        """Close the underlying HTTP client."""
        await self._client.close()

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        attempts = 0
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=make_wait(self._retry),
            stop=stop_after_attempt(self._retry.max_attempts) | stop_before_delay(self._retry.budget_s),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return await call(), attempts
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise translate_error(last or exc, attempts=attempts) from last
        except Exception as exc:
            raise translate_error(exc, attempts=attempts) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _kwargs(self, request: LLMRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self._model, "max_tokens": request.max_tokens, "temperature": request.temperature,
        }
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.mode == "chat":
            kwargs["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            kwargs["prompt"] = request.prompt
        return kwargs

    async def complete(self, request: LLMRequest) -> LLMResult:
        """One generation, retried under the policy; raises a typed LLMError on failure."""
        started = time.perf_counter()
        kwargs = self._kwargs(request)

        async def call() -> ChatCompletion | Completion:
            if request.mode == "chat":
                return await self._client.chat.completions.create(**kwargs)  # type: ignore[no-any-return]
            return await self._client.completions.create(**kwargs)  # type: ignore[no-any-return]

        response, attempts = await self._with_retries(call)
        text, reason = self._read_choice(response)
        return LLMResult(
            text=text,
            model=response.model or self._model,
            usage=_usage(response.usage),
            finish_reason=reason,
            attempts=attempts,
            latency_s=time.perf_counter() - started,
        )

    @staticmethod
    def _read_choice(response: object) -> tuple[str, FinishReason]:
        choices = getattr(response, "choices", None)
        if not isinstance(response, ChatCompletion | Completion) or not choices:
            raise LLMResponseError("The language model returned no choices.", details={"reason": "no_choices"})
        choice = choices[0]
        # The SDK does not validate bodies, so a sloppy server can send a choice without a message or with
        # non-text content; both are an unusable reply, not an AttributeError.
        holder = getattr(choice, "message", None) if isinstance(response, ChatCompletion) else choice
        text = getattr(holder, "content" if isinstance(response, ChatCompletion) else "text", None)
        reason = _finish(getattr(choice, "finish_reason", None))
        if reason == "content_filter":
            raise LLMResponseError("The language model's content filter withheld the reply; draft this one by hand.",
                                   details={"reason": "content_filter"})
        if not isinstance(text, str) or not text.strip():
            raise LLMResponseError("The language model returned an empty reply.", details={"reason": "empty"})
        return text, reason

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """Stream deltas, then one LLMResult; only opening the stream is retried."""
        started = time.perf_counter()
        kwargs = self._kwargs(request) | {"stream": True, "stream_options": {"include_usage": True}}

        async def open_stream() -> Any:
            if request.mode == "chat":
                return await self._client.chat.completions.create(**kwargs)
            return await self._client.completions.create(**kwargs)

        stream, attempts = await self._with_retries(open_stream)
        parts: list[str] = []
        reason: FinishReason = "stop"
        usage: Usage | None = None
        model = self._model
        try:
            async for chunk in stream:
                model = getattr(chunk, "model", None) or model
                if getattr(chunk, "usage", None):
                    usage = _usage(chunk.usage)
                for choice in chunk.choices or []:
                    piece = choice.delta.content if request.mode == "chat" else choice.text
                    if piece:
                        parts.append(piece)
                        yield Delta(piece)
                    if choice.finish_reason:
                        reason = _finish(choice.finish_reason)
        except Exception as exc:
            raise translate_error(exc, attempts=attempts) from exc
        finally:
            # The SDK closes the response only when the stream is read to the end; a consumer that stops early
            # (client disconnect, an error downstream) would otherwise leave the pooled connection open.
            await stream.close()
        text = "".join(parts)
        if usage is None:
            # Some servers (llama.cpp's) ignore stream_options.include_usage; they stream one token per chunk.
            usage = Usage(0, len(parts))
        if reason == "content_filter":
            raise LLMResponseError("The language model's content filter withheld the reply; draft this one by hand.",
                                   details={"reason": "content_filter"})
        if not text.strip():
            raise LLMResponseError("The language model returned an empty reply.", details={"reason": "empty"})
        yield LLMResult(text=text, model=model, usage=usage, finish_reason=reason, attempts=attempts,
                        latency_s=time.perf_counter() - started)

    async def ping(self) -> None:
        """Cheap reachability check: list models with a short timeout and no retries."""
        try:
            await self._client.with_options(timeout=5.0, max_retries=0).models.list()
        except Exception as exc:
            raise translate_error(exc, attempts=1) from exc
