"""The cap on concurrent LLM calls: a bounded queue, a wait limit, and slots always given back."""

from __future__ import annotations

import asyncio

import pytest

from drafter.errors import LLMBusyError
from drafter.llm.limiter import ConcurrencyLimit

pytestmark = pytest.mark.anyio


async def hold(limit: ConcurrencyLimit, release: asyncio.Event) -> None:
    async with limit.slot():
        await release.wait()


@pytest.mark.parametrize(("concurrent", "queue", "callers", "refused"), [
    (1, 0, 2, 1),
    (2, 1, 4, 1),
    (2, 3, 5, 0),
    (3, 0, 3, 0),
])
async def test_calls_beyond_cap_and_queue_are_refused_at_once(concurrent: int, queue: int, callers: int,
                                                              refused: int) -> None:
    limit = ConcurrencyLimit(max_concurrent=concurrent, max_queue=queue, queue_timeout_s=5)
    release = asyncio.Event()
    tasks = [asyncio.create_task(hold(limit, release)) for _ in range(callers)]
    await asyncio.sleep(0.05)
    assert limit.in_flight == min(concurrent, callers)
    done = [t for t in tasks if t.done()]
    assert len(done) == refused
    for t in done:
        assert isinstance(t.exception(), LLMBusyError)
    release.set()
    await asyncio.gather(*[t for t in tasks if t not in done])
    assert (limit.in_flight, limit.waiting) == (0, 0)


async def test_a_wait_past_the_queue_timeout_is_refused_with_retry_after() -> None:
    limit = ConcurrencyLimit(max_concurrent=1, max_queue=5, queue_timeout_s=0.05)
    release = asyncio.Event()
    holder = asyncio.create_task(hold(limit, release))
    await asyncio.sleep(0.01)
    with pytest.raises(LLMBusyError) as info:
        async with limit.slot():
            pytest.fail("no slot was free")
    assert info.value.retry_after and info.value.retry_after >= 1
    assert info.value.http_status == 503 and limit.waiting == 0
    release.set()
    await holder
    async with limit.slot():  # the slot came back
        assert limit.in_flight == 1


async def test_a_failing_or_cancelled_holder_gives_its_slot_back() -> None:
    limit = ConcurrencyLimit(max_concurrent=1, max_queue=0, queue_timeout_s=1)
    with pytest.raises(RuntimeError):
        async with limit.slot():
            raise RuntimeError("the call failed")
    task = asyncio.create_task(hold(limit, asyncio.Event()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limit.in_flight == 0
    async with limit.slot():
        pass
