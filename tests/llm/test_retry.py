"""drafter.llm.retry: what is retried, how Retry-After is read, and how long we wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest
from tenacity import RetryCallState, Retrying

from drafter.errors import LLMUnavailableError
from drafter.llm.retry import RetryPolicy, is_retryable, make_wait, retry_after_s

URL = "http://llm.test/v1/chat/completions"
REQUEST = httpx.Request("POST", URL)


def status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    """The exception the SDK raises for an HTTP error answer."""
    response = httpx.Response(status, headers=headers or {}, request=REQUEST)
    return openai.APIStatusError(f"HTTP {status}", response=response, body=None)


def http_date(offset_s: float, *, zone: str = "GMT") -> str:
    """An HTTP-date `offset_s` seconds from now, e.g. 'Wed, 21 Oct 2015 07:28:00 GMT'."""
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).strftime(f"%a, %d %b %Y %H:%M:%S {zone}")


# -- is_retryable ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(408, True), (409, True), (429, True), (500, True), (502, True), (503, True), (504, True), (599, True),
     (400, False), (401, False), (403, False), (404, False), (422, False)],
)
def test_is_retryable_by_status(status: int, retryable: bool) -> None:
    assert is_retryable(status_error(status)) is retryable


@pytest.mark.parametrize(
    ("exc", "retryable"),
    [
        (openai.APIConnectionError(request=REQUEST), True),
        (openai.APITimeoutError(request=REQUEST), True),
        (httpx.ConnectError("refused", request=REQUEST), True),
        (httpx.ReadTimeout("slow", request=REQUEST), True),
        (httpx.RemoteProtocolError("peer closed", request=REQUEST), True),
        (ValueError("bad json"), False),
        (LLMUnavailableError("already translated"), False),  # our own errors are final, never retried again
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_is_retryable_by_exception(exc: BaseException, retryable: bool) -> None:
    assert is_retryable(exc) is retryable


# -- retry_after_s -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "-2"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise header wins
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # an unreadable ms header falls back
        ({"retry-after": "soon"}, None),  # garbage means "the server did not say", never a crash
        ({"retry-after": ""}, None),
        ({"retry-after": "inf"}, None),  # not a wait anyone can honour (and math.ceil(inf) raises downstream)
        ({"retry-after": "nan"}, None),
        ({"retry-after-ms": "inf"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(status_error(429, headers)) == expected


@pytest.mark.parametrize(("offset_s", "expected"), [(120, 120.0), (-60, 0.0)])
def test_retry_after_http_date(offset_s: float, expected: float) -> None:
    got = retry_after_s(status_error(503, {"retry-after": http_date(offset_s)}))
    assert got == pytest.approx(expected, abs=2)  # HTTP dates have one-second resolution


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """Run in a local time zone hours away from UTC, so local-time mistakes show."""
    with pytest.MonkeyPatch.context() as patch:  # its own context: undoing it leaves other fixtures' patches alone
        patch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
        time.tzset()
        yield
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_retry_after_date_without_zone_is_utc() -> None:
    # RFC 2822's "-0000" parses to a naive datetime; treating it as local time would be 14 h off here.
    got = retry_after_s(status_error(429, {"retry-after": http_date(60, zone="-0000")}))
    assert got == pytest.approx(60, abs=2)


@pytest.mark.parametrize("exc", [None, ValueError("x"), openai.APIConnectionError(request=REQUEST)])
def test_retry_after_needs_an_http_answer(exc: BaseException | None) -> None:
    assert retry_after_s(exc) is None


# -- make_wait ---------------------------------------------------------------------------------


def state(attempt: int, exc: BaseException | None = None) -> RetryCallState:
    """The tenacity state after `attempt` failed with `exc`."""
    retry_state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    retry_state.attempt_number = attempt
    if exc is not None:
        retry_state.set_exception((type(exc), exc, None))
    return retry_state


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


POLICY = RetryPolicy(max_attempts=10, budget_s=600, initial_wait_s=1.0, max_wait_s=20.0)


@pytest.mark.parametrize(
    ("attempt", "rng", "expected"),
    [
        (1, 1.0, 1.0), (2, 1.0, 2.0), (3, 1.0, 4.0), (4, 1.0, 8.0), (5, 1.0, 16.0),  # doubles each attempt
        (6, 1.0, 20.0), (12, 1.0, 20.0),  # capped at max_wait_s
        (1, 0.0, 0.5), (3, 0.0, 2.0), (12, 0.0, 10.0),  # jitter takes up to half off
    ],
)
def test_wait_grows_exponentially_with_jitter(attempt: int, rng: float, expected: float) -> None:
    assert make_wait(POLICY, rng=fixed(rng))(state(attempt, status_error(500))) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("retry_after", "attempt", "expected"),
    [
        ("30", 1, 30.0),  # longer than max_wait_s: the server's word wins
        ("3", 1, 3.0),  # longer than the backoff: never retry before the server said
        ("0.1", 4, 8.0),  # shorter than the backoff: the backoff stands
    ],
)
def test_wait_honours_retry_after(retry_after: str, attempt: int, expected: float) -> None:
    exc = status_error(429, {"retry-after": retry_after})
    assert make_wait(POLICY, rng=fixed(1.0))(state(attempt, exc)) == pytest.approx(expected)


@pytest.mark.parametrize("retry_after", [None, "0", "0.2", "3", "19", "45"])
@pytest.mark.parametrize("rng", [0.0, 0.37, 0.999])
def test_wait_bounds(retry_after: str | None, rng: float) -> None:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    exc = status_error(503, headers)
    asked = float(retry_after) if retry_after is not None else 0.0
    wait = make_wait(POLICY, rng=fixed(rng))
    for attempt in range(1, 15):
        assert asked <= wait(state(attempt, exc)) <= max(POLICY.max_wait_s, asked)


def test_wait_without_outcome_is_plain_backoff() -> None:
    assert make_wait(POLICY, rng=fixed(1.0))(state(2)) == pytest.approx(2.0)
