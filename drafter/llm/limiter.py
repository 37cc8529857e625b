"""A cap on concurrent LLM calls with a bounded, time-limited wait queue.

Beyond the cap, calls wait their turn; when the queue is full (or the wait takes too long) the call is refused
with LLMBusyError, which the API answers with 503 and Retry-After. Shedding load here keeps memory and latency
bounded when the endpoint is slow, instead of piling up thousands of open requests.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from drafter.errors import LLMBusyError


class ConcurrencyLimit:
    """At most `max_concurrent` holders at once and at most `max_queue` waiting, each for `queue_timeout_s`."""

    def __init__(self, *, max_concurrent: int, max_queue: int, queue_timeout_s: float) -> None:
        self.max_concurrent, self.max_queue, self.queue_timeout_s = max_concurrent, max_queue, queue_timeout_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self._in_flight = 0
        self._waiting = 0

    @property
    def in_flight(self) -> int:
        """Calls holding a slot now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Calls waiting for a slot now."""
        return self._waiting

    def _busy(self, why: str) -> LLMBusyError:
        # A guess at when a slot frees up: a share of the queue timeout, at least one second.
        wait = max(1.0, min(self.queue_timeout_s, 5.0))
        return LLMBusyError(
            f"Too many drafts are being written right now ({why}); the message was stored. Try again in "
            f"{math.ceil(wait)} s or regenerate the draft later.", retry_after=wait,
            details={"in_flight": self._in_flight, "waiting": self._waiting, "max_concurrent": self.max_concurrent,
                     "max_queue": self.max_queue})

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block; raise LLMBusyError when none comes in time."""
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot is taken without suspending, so no one can slip in between
        else:
            if self._waiting >= self.max_queue:
                raise self._busy(f"{self._in_flight} calls running and {self._waiting} waiting, the most allowed")
            self._waiting += 1
            try:
                async with asyncio.timeout(self.queue_timeout_s):  # no extra task, so a slot cannot get lost
                    await self._slots.acquire()
            except TimeoutError:
                raise self._busy(f"no slot freed up within {self.queue_timeout_s:g} s") from None
            finally:
                self._waiting -= 1
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._slots.release()
