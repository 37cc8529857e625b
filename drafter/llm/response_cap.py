"""An httpx transport that refuses response bodies above a byte limit while they arrive, streamed or not.

A broken or hostile endpoint can send megabytes where a few hundred tokens were asked for; reading it whole
first would hold it all in memory. The limit error is an LLMResponseError, which the retry policy never
retries (the same request would get the same answer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from drafter.errors import LLMError, LLMResponseError


def response_too_large(limit: int) -> LLMResponseError:
    """The error for a reply body above `limit` bytes."""
    return LLMResponseError(f"The language model sent a reply larger than {limit:,} bytes, which was refused "
                            "(DRAFTER_LLM_MAX_RESPONSE_BYTES).", details={"reason": "too_large", "limit_bytes": limit})


def own_error(exc: BaseException | None) -> LLMError | None:
    """Our LLMError behind an SDK wrapper (the SDK wraps transport errors in APIConnectionError), if any."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, LLMError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self._inner, self._limit = inner, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise response_too_large(self._limit)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class ResponseCapTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; bodies (raw bytes on the wire) above `limit` raise while they are read."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, limit: int) -> None:
        self._inner, self._limit = inner, limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            await response.aclose()
            raise response_too_large(self._limit)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CappedStream(response.stream, self._limit)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
