"""Write transactions run one after another in one worker thread while any are waiting (SQLite's one writer)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
S = TypeVar("S")

PER_HOP = 64  # writes per hop to the thread before the lock is offered to others (writing() sessions)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class SerialWriter(Generic[S]):
    """Runs `run(body)` for each submitted body in submission order, back to back in one worker thread.

    With one hop to a thread per write, every write of a burst waited for a turn of the event loop, behind every
    other ready request, to take the lock and hop after the one before it had finished; here the thread goes on
    to the next waiting write itself. `lock` is held around each hop, so async-engine writers (`writing()`)
    still take turns with these. A caller cancelled before its write started skips it; once started, the
    transaction commits or rolls back whole, as before. Each body runs in its caller's context (request id).
    """

    def __init__(self, run: Callable[[Callable[[S], Any]], Any], lock: asyncio.Lock) -> None:
        self._run, self._lock = run, lock
        self._pending: deque[tuple[Callable[[S], Any], asyncio.Future[Any], contextvars.Context]] = deque()
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, body: Callable[[S], T]) -> T:
        """`run(body)` in the writer thread, after the writes submitted before it; its result or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((body, future, contextvars.copy_context()))
        drainer = self._drainer
        # A store serves one event loop at a time; a drainer left behind by a loop that closed mid-drain is replaced
        # rather than waited for.
        if drainer is None or drainer.done() or drainer.get_loop() is not loop:
            self._drainer = loop.create_task(self._drain_all())
        return await future

    async def _drain_all(self) -> None:
        stop = threading.Event()
        try:
            while self._pending:
                async with self._lock:
                    hop = asyncio.ensure_future(asyncio.to_thread(self._drain, stop))
                    try:
                        await asyncio.shield(hop)
                    except asyncio.CancelledError:
                        # The thread finishes the write it is in and takes no more; the lock is held until then,
                        # so no other writer (or a second drainer) starts beside it.
                        stop.set()
                        with contextlib.suppress(BaseException):
                            await hop
                        raise
        except BaseException as exc:  # cancelled, or the thread pool is gone (shutdown): nobody may wait forever
            cancelled = isinstance(exc, asyncio.CancelledError)
            while self._pending:
                future = self._pending.popleft()[1]
                if cancelled:
                    future.cancel()
                else:
                    _settle(future, None, exc)
            if cancelled:
                raise
            # Any other error now belongs to the callers that were waiting; the task itself ends quietly.
        finally:
            if self._drainer is asyncio.current_task():
                self._drainer = None

    def _drain(self, stop: threading.Event) -> None:
        for _ in range(PER_HOP):
            if stop.is_set():
                return
            try:
                body, future, context = self._pending.popleft()
            except IndexError:
                return
            if future.cancelled():
                continue
            try:
                result, error = context.run(self._run, body), None
            except BaseException as exc:
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # its loop closed while this write ran
                future.get_loop().call_soon_threadsafe(_settle, future, result, error)
