"""A circuit breaker for the LLM endpoint: closed → open after repeated failures → half-open trial → closed.

While open, calls fail at once with LLMCircuitOpenError instead of each waiting through the retry policy
against an endpoint that is down. After the cool-down one trial call goes through (half-open): success closes
the circuit, failure opens it for another cool-down. All state changes happen on the event loop thread between
awaits, so no lock is needed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from drafter.errors import LLMBusyError, LLMCircuitOpenError, LLMResponseError, LLMTimeoutError, LLMUnavailableError


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def counts_as_failure(exc: BaseException) -> bool:
    """Errors that say the endpoint is unhealthy; a per-request refusal (content filter) or our own cap does not."""
    if isinstance(exc, LLMCircuitOpenError | LLMBusyError):
        return False
    if isinstance(exc, LLMResponseError):
        return exc.details.get("reason") != "content_filter"
    return isinstance(exc, LLMUnavailableError | LLMTimeoutError)


class CircuitBreaker:
    """Counts consecutive failed calls; opens at `threshold`, tries again after `cooldown_s`."""

    def __init__(self, *, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold, self.cooldown_s, self._clock = threshold, cooldown_s, clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False  # a half-open trial call is in flight

    @property
    def state(self) -> BreakerState:
        """The current state (open turns half-open by itself once the cool-down has passed)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self.cooldown_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @property
    def failures(self) -> int:
        """Consecutive failed calls since the last success."""
        return self._failures

    def retry_after_s(self) -> float:
        """Seconds until a trial call will be let through (0 when calls go through now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))

    def describe(self) -> str:
        """'ok', or why calls fail fast, for /readyz."""
        state = self.state
        if state is BreakerState.CLOSED:
            return "ok"
        if state is BreakerState.OPEN:
            return (f"circuit open after {self._failures} failed calls in a row; failing fast, next trial call in "
                    f"{math.ceil(self.retry_after_s())} s")
        return "circuit half-open: the next call is a trial of the endpoint"

    def check(self) -> None:
        """Raise LLMCircuitOpenError when a call would not be let through now."""
        state = self.state
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self._probing):
            wait = self.retry_after_s() or 1.0
            raise LLMCircuitOpenError(
                f"The language model endpoint failed {self._failures} times in a row, so drafting fails fast for "
                f"now; it is tried again in about {math.ceil(wait)} s.",
                retry_after=wait, details={"breaker": state.value, "failures": self._failures})

    @contextmanager
    def call(self) -> Iterator[None]:
        """Guard one call: raises at once when open; records the call's outcome."""
        self.check()
        probe = self.state is BreakerState.HALF_OPEN
        if probe:
            self._probing = True
        try:
            yield
        except BaseException as exc:
            if counts_as_failure(exc):
                self._record_failure()
            raise
        else:
            self._record_success()
        finally:
            if probe:
                self._probing = False

    def _record_success(self) -> None:
        self._failures, self._opened_at = 0, None

    def _record_failure(self) -> None:
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.threshold:
            self._opened_at = self._clock()  # a failed trial (or the threshold reached) opens for a new cool-down
