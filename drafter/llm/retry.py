"""The one retry policy for LLM calls: exponential backoff with jitter, honouring Retry-After.

The openai SDK's own retries are switched off (max_retries=0) so this is the only place that decides.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

import httpx
import openai
from tenacity import RetryCallState

from drafter.llm.response_cap import own_error

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    budget_s: float = 90.0
    initial_wait_s: float = 0.5
    max_wait_s: float = 20.0


def is_retryable(exc: BaseException) -> bool:
    """Connection errors, timeouts, 408/409/429 and 5xx are worth another try; other errors are not."""
    if own_error(exc) is not None:  # our own verdict (e.g. a reply over the size cap), even when the SDK wrapped it
        return False
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    return False


def _seconds(value: str, scale: float = 1.0) -> float | None:
    """A header's number of seconds, or None when it is not a finite number."""
    try:
        seconds = float(value) * scale
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None  # "inf"/"nan" are no wait anyone can honour


def retry_after_s(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if it said so readably."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    if (ms := headers.get("retry-after-ms")) is not None and (seconds := _seconds(ms, 1 / 1000)) is not None:
        return seconds
    value = headers.get("retry-after")
    if value is None:
        return None
    if (seconds := _seconds(value)) is not None:
        return seconds
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):  # an unreadable header means the server did not say; it must not end the retry
        return None
    if parsed.tzinfo is None:  # "-0000" parses naive, but HTTP dates are UTC, never our local time
        parsed = parsed.replace(tzinfo=UTC)
    return max(0.0, parsed.timestamp() - time.time())


def make_wait(policy: RetryPolicy, rng: Callable[[], float] = random.random) -> Callable[[RetryCallState], float]:
    """Full-jitter exponential backoff, but never shorter than the server's Retry-After."""

    def wait(state: RetryCallState) -> float:
        backoff = min(policy.max_wait_s, policy.initial_wait_s * 2 ** (state.attempt_number - 1))
        jittered = backoff * (0.5 + rng() / 2)
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_s(exc)
        return float(min(max(jittered, asked or 0.0), max(policy.max_wait_s, asked or 0.0)))

    return wait
