"""SerialWriter: submission order, one write at a time, errors and cancellation per caller, the shared lock."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from drafter.storage.serial import PER_HOP, SerialWriter

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the writer is built on asyncio's loop and thread pool


class Recorder:
    """A `run` that calls the body with a fake session and records order and overlap."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.threads: set[int] = set()
        self.active = self.most_active = 0
        self._guard = threading.Lock()

    def __call__(self, body: Callable[[str], Any]) -> Any:
        with self._guard:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            self.threads.add(threading.get_ident())
            return body("session")
        finally:
            with self._guard:
                self.active -= 1


def write(recorder: Recorder, n: int, *, seconds: float = 0.0, fail: bool = False) -> Callable[[str], int]:
    def body(session: str) -> int:
        assert session == "session"
        time.sleep(seconds)
        recorder.order.append(n)
        if fail:
            raise ValueError(f"write {n} failed")
        return n * 10

    return body


@pytest.mark.parametrize("count", [1, 5, 150], ids=["one", "a-few", "more-than-one-hop"])
async def test_writes_run_one_at_a_time_in_submission_order(count: int) -> None:
    recorder = Recorder()
    writer = SerialWriter[str](recorder, asyncio.Lock())
    results = await asyncio.gather(*(writer.submit(write(recorder, i)) for i in range(count)))
    assert results == [i * 10 for i in range(count)]
    assert recorder.order == list(range(count))
    assert recorder.most_active == 1
    assert threading.get_ident() not in recorder.threads  # never on the event loop's thread


async def test_an_error_reaches_only_its_caller() -> None:
    recorder = Recorder()
    writer = SerialWriter[str](recorder, asyncio.Lock())
    results = await asyncio.gather(writer.submit(write(recorder, 1)), writer.submit(write(recorder, 2, fail=True)),
                                   writer.submit(write(recorder, 3)), return_exceptions=True)
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError) and str(results[1]) == "write 2 failed"


async def test_a_caller_cancelled_before_its_turn_skips_its_write() -> None:
    recorder = Recorder()
    writer = SerialWriter[str](recorder, asyncio.Lock())
    slow = asyncio.ensure_future(writer.submit(write(recorder, 1, seconds=0.2)))
    await asyncio.sleep(0.05)  # the slow write has started
    cancelled = asyncio.ensure_future(writer.submit(write(recorder, 2)))
    after = asyncio.ensure_future(writer.submit(write(recorder, 3)))
    await asyncio.sleep(0)
    cancelled.cancel()
    assert await slow == 10 and await after == 30
    assert cancelled.cancelled()
    assert recorder.order == [1, 3]


async def test_a_started_write_finishes_when_its_caller_goes_away() -> None:
    recorder = Recorder()
    writer = SerialWriter[str](recorder, asyncio.Lock())
    started = asyncio.ensure_future(writer.submit(write(recorder, 1, seconds=0.1)))
    await asyncio.sleep(0.03)
    started.cancel()
    assert await writer.submit(write(recorder, 2)) == 20
    assert recorder.order == [1, 2]  # committed or rolled back whole, never cut off


async def test_writes_wait_for_a_holder_of_the_shared_lock() -> None:
    recorder, lock = Recorder(), asyncio.Lock()
    writer = SerialWriter[str](recorder, lock)
    async with lock:  # e.g. a writing() session on the async engine
        pending = asyncio.ensure_future(writer.submit(write(recorder, 1)))
        await asyncio.sleep(0.05)
        assert recorder.order == [] and not pending.done()
    assert await pending == 10


async def test_when_the_thread_pool_is_gone_every_waiting_caller_hears_it(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_pool(*_: Any) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    recorder = Recorder()
    writer = SerialWriter[str](recorder, asyncio.Lock())
    monkeypatch.setattr(asyncio, "to_thread", no_pool)
    results = await asyncio.gather(*(writer.submit(write(recorder, i)) for i in range(3)), return_exceptions=True)
    assert [str(r) for r in results] == ["cannot schedule new futures after shutdown"] * 3
    assert recorder.order == []


async def test_the_lock_is_offered_to_other_writers_between_hops() -> None:
    recorder, lock = Recorder(), asyncio.Lock()
    writer = SerialWriter[str](recorder, lock)
    burst = [asyncio.ensure_future(writer.submit(write(recorder, i, seconds=0.001))) for i in range(PER_HOP + 20)]
    await asyncio.sleep(0.01)  # the first hop is running

    async def other_writer() -> None:  # e.g. a writing() session on the async engine
        async with lock:
            recorder.order.append(-1)

    await asyncio.gather(other_writer(), *burst)
    assert recorder.order.index(-1) == PER_HOP  # right after the first hop, not after the whole burst


async def test_a_cancelled_drainer_lets_the_running_write_finish_and_starts_nothing_beside_it() -> None:
    recorder = Recorder()
    writer = SerialWriter[str](recorder, asyncio.Lock())
    running = asyncio.ensure_future(writer.submit(write(recorder, 1, seconds=0.1)))
    waiting = [asyncio.ensure_future(writer.submit(write(recorder, i))) for i in (2, 3)]
    await asyncio.sleep(0.03)
    drainer = writer._drainer
    assert drainer is not None
    drainer.cancel()  # as asyncio.run does to leftover tasks when its loop ends
    late = asyncio.ensure_future(writer.submit(write(recorder, 4)))  # while it winds down
    assert await running == 10  # the write in progress commits whole and its caller hears so
    await asyncio.wait([*waiting, late])
    assert all(task.cancelled() for task in [*waiting, late])  # none started, none will
    assert drainer.cancelled()
    assert await writer.submit(write(recorder, 5)) == 50  # a new drainer afterwards
    assert recorder.order == [1, 5] and recorder.most_active == 1


async def test_each_write_runs_in_its_callers_context() -> None:
    seen: list[str] = []
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller")

    def body(_: str) -> None:
        seen.append(caller.get())

    writer = SerialWriter[str](lambda b: b("session"), asyncio.Lock())

    async def submit_as(name: str) -> None:
        caller.set(name)
        await writer.submit(body)

    await asyncio.gather(*(submit_as(f"request-{i}") for i in range(3)))
    assert seen == ["request-0", "request-1", "request-2"]
