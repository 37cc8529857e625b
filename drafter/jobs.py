"""Pre-generation of drafts in the background: accepted messages get their draft before a clinician opens them.

`DraftJobs` is the small interface the routes use (`enqueue`); `InProcessDraftJobs` is a bounded in-process
worker pool behind it (the embedded default), `drafter.queue.RedisDraftJobs` a job queue on Redis that
`drafter worker` processes drain. Nothing lives only in memory: the database is the queue of record (drafts in
status `queued`, or `generating` and abandoned), a queue is just a fast path. When it is full or lost, or after a
restart, the periodic sweep finds the waiting drafts again, so no accepted message loses its draft. Both write a
draft the same way, with `DraftWriter` (claim, generate, store).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Protocol

from drafter.llm.base import Delta
from drafter.pipeline import Pipeline
from drafter.progress import DraftProgress
from drafter.storage.models import utcnow
from drafter.storage.repository import DraftStore

log = logging.getLogger("drafter.jobs")


class DraftJobs(Protocol):
    """Where accepted drafts go to be written."""

    label: str  # the queue-depth gauge's label for this queue

    def enqueue(self, draft_id: str) -> None:
        """Ask for the draft to be written soon; never blocks, never loses it (it is already stored)."""


    async def depth(self) -> int:
        """How many drafts wait in this queue (the database may hold more: see DraftStore.count_queued)."""


class DraftWriter:
    """Claim a waiting draft, write it through the pipeline publishing its text, and store it (or its failure)."""

    def __init__(self, *, pipeline: Pipeline, store: DraftStore, progress: DraftProgress,
                 stale_after_s: float = 600.0) -> None:
        self.pipeline, self.store, self.progress = pipeline, store, progress
        self.stale_after = timedelta(seconds=stale_after_s)

    async def write(self, draft_id: str) -> bool:
        """Write the draft if it is still waiting; False when another worker has it or it is no longer waiting."""
        if not await self.store.claim(draft_id, stale_before=utcnow() - self.stale_after):
            return False
        self.progress.start(draft_id)
        try:
            async for event in self.pipeline.generate(draft_id):
                if isinstance(event, Delta):
                    self.progress.publish(draft_id, event.text)
        except asyncio.CancelledError:  # shutting down: hand it back so the next start writes it at once
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release(draft_id))
            raise
        except Exception as exc:
            # The pipeline stored the failure on the draft (status failed, error code), or the store refused a late
            # result (ConflictError: another worker finished the draft first, or it was reviewed) and nothing changed.
            # Codes only in logs, no PHI.
            log.warning("pre-generation failed", extra={"draft_id": draft_id, "error_code":
                                                        getattr(exc, "code", type(exc).__name__)})
        finally:
            self.progress.finish(draft_id)
        return True


class InProcessDraftJobs:
    """`workers` asyncio tasks drafting from a bounded queue, fed by `enqueue` and by a sweep of the database."""

    label = "in_process"

    def __init__(self, *, pipeline: Pipeline, store: DraftStore, progress: DraftProgress, workers: int = 1,
                 queue_size: int = 100, sweep_every_s: float = 5.0, stale_after_s: float = 600.0) -> None:
        self.store, self.workers, self.sweep_every_s = store, workers, sweep_every_s
        self.stale_after = timedelta(seconds=stale_after_s)
        self.writer = DraftWriter(pipeline=pipeline, store=store, progress=progress, stale_after_s=stale_after_s)
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self._known: set[str] = set()  # queued here or being written here: the sweep skips them
        self._tasks: list[asyncio.Task[None]] = []

    def enqueue(self, draft_id: str) -> None:
        """Queue the draft; when the queue is full it waits in the database for the next sweep."""
        if draft_id in self._known:
            return
        try:
            self._queue.put_nowait(draft_id)
        except asyncio.QueueFull:
            log.warning("pre-generation queue full; the draft waits for the next sweep")
            return
        self._known.add(draft_id)

    async def sweep(self) -> int:
        """Queue the drafts the database says are waiting (after a restart, or after a full queue); return how many."""
        room = self._queue.maxsize - self._queue.qsize()
        if room <= 0:
            return 0
        waiting = await self.store.pending_generation(stale_before=utcnow() - self.stale_after,
                                                      limit=room + len(self._known))
        added = 0
        for draft_id in waiting:
            if draft_id not in self._known and not self._queue.full():
                self.enqueue(draft_id)
                added += 1
        return added

    async def run_one(self, draft_id: str) -> None:
        """Claim the draft and write it, publishing its text as it arrives; failures are stored on the draft."""
        await self.writer.write(draft_id)

    async def depth(self) -> int:
        """Drafts in the in-memory queue."""
        return self._queue.qsize()

    async def _worker(self) -> None:
        while True:
            try:
                draft_id = await asyncio.wait_for(self._queue.get(), timeout=self.sweep_every_s)
            except TimeoutError:
                try:
                    await self.sweep()
                except Exception as exc:  # the database may be down for a while: keep the worker alive
                    log.warning("pre-generation sweep failed", extra={"error_type": type(exc).__name__})
                continue
            try:
                await self.run_one(draft_id)
            except Exception as exc:  # e.g. the database went away while claiming: the sweep retries later
                log.warning("pre-generation job failed", extra={"error_type": type(exc).__name__})
            finally:
                self._known.discard(draft_id)
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued draft has been written (tests and benches)."""
        await self._queue.join()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[InProcessDraftJobs]:
        """Resume waiting drafts, run the workers, and cancel them on exit (unfinished drafts resume next start)."""
        await self.sweep()
        self._tasks = [asyncio.create_task(self._worker(), name=f"drafter-pregenerate-{i}")
                       for i in range(self.workers)]
        try:
            yield self
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks = []
