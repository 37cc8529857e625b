"""The circuit breaker's state machine, on a clock the test moves."""

from __future__ import annotations

import pytest

from drafter.errors import LLMBusyError, LLMCircuitOpenError, LLMResponseError, LLMTimeoutError, LLMUnavailableError
from drafter.llm.breaker import BreakerState, CircuitBreaker, counts_as_failure


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: CircuitBreaker, exc: Exception | None = None) -> None:
    with pytest.raises(type(exc) if exc else LLMUnavailableError), breaker.call():
        raise exc or LLMUnavailableError("down")


def succeed(breaker: CircuitBreaker) -> None:
    with breaker.call():
        pass


def test_opens_at_the_threshold_fails_fast_then_half_opens_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        fail(breaker)
    assert breaker.state is BreakerState.CLOSED and breaker.describe() == "ok"
    fail(breaker)
    assert breaker.state is BreakerState.OPEN
    clock.now += 4
    with pytest.raises(LLMCircuitOpenError) as info, breaker.call():
        pytest.fail("an open circuit must not let the call through")
    assert info.value.retry_after == pytest.approx(6)
    assert info.value.http_status == 503
    assert "next trial call in 6 s" in breaker.describe()
    clock.now += 6
    assert breaker.state is BreakerState.HALF_OPEN
    succeed(breaker)
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0


def test_a_failed_trial_opens_for_a_new_cooldown_and_only_one_trial_runs_at_a_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=5, clock=clock)
    fail(breaker)
    clock.now += 5
    with breaker.call(), pytest.raises(LLMCircuitOpenError):  # the trial is in flight: a second caller fails fast
        breaker.check()
    assert breaker.state is BreakerState.CLOSED
    fail(breaker)
    clock.now += 5
    fail(breaker)  # the trial fails
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after_s() == pytest.approx(5)


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_s=5, clock=Clock())
    fail(breaker)
    succeed(breaker)
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(("exc", "counts"), [
    (LLMUnavailableError("down"), True),
    (LLMTimeoutError("slow"), True),
    (LLMResponseError("garbage", details={"reason": "empty"}), True),
    (LLMResponseError("filtered", details={"reason": "content_filter"}), False),
    (LLMBusyError("our own cap"), False),
    (LLMCircuitOpenError("open"), False),
    (ValueError("a bug, not the endpoint"), False),
])
def test_what_counts_as_an_endpoint_failure(exc: Exception, counts: bool) -> None:
    assert counts_as_failure(exc) is counts
    breaker = CircuitBreaker(threshold=1, cooldown_s=5, clock=Clock())
    fail(breaker, exc)
    assert (breaker.state is BreakerState.OPEN) is counts
