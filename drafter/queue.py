"""Pre-generation on a job queue on Redis: the API process enqueues, `drafter worker` processes write the drafts.

The library is saq (asyncio-native, Redis). Why it: the job is the same coroutine as the in-process worker's
(`DraftWriter.write`), no thread or fork in between; Redis is already what a multi-process deployment runs for
shared rate limits; a job carries a key, and saq refuses a second job with a key that is still queued or running, so
enqueueing a draft twice makes one job, while a finished key can be enqueued again (arq, the alternative, keeps a
finished job's id, and so refuses it, until its result expires, which would hold back a draft handed back on
shutdown).

Losing Redis loses no draft: the database stays the queue of record. A job names only a draft id (no patient
text goes to Redis); the worker claims the draft atomically in the database before writing it, so a duplicate
or late job is skipped; and every worker sweeps the database for drafts still waiting (Redis was down or flushed
when the message arrived, a worker died mid-draft) and enqueues them again under the same key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import start_http_server
from saq import Job, Queue, Worker

from drafter.errors import ConfigError
from drafter.heap import freeze_startup_heap
from drafter.jobs import DraftWriter
from drafter.llm.base import LLM
from drafter.metrics import Metrics
from drafter.progress import DraftProgress
from drafter.services import open_services
from drafter.settings import Settings
from drafter.storage.models import utcnow
from drafter.storage.repository import DraftStore

log = logging.getLogger("drafter.queue")

JOB = "drafter.write_draft"  # the job's function name, shared by the enqueuing and the working side
_ENQUEUE_TIMEOUT_S = 5.0  # a Redis that does not answer must not hold up the request that accepted the message


def open_queue(settings: Settings) -> Queue:
    """The saq queue named in settings, on DRAFTER_QUEUE_URL (not connected yet)."""
    return Queue.from_url(settings.queue_url, name=settings.queue_name)


class RedisDraftJobs:
    """`DraftJobs` on a saq queue: one job per draft id; the API process with a queue configured only enqueues."""

    label = "redis"

    def __init__(self, queue: Queue, *, job_timeout_s: float = 600.0) -> None:
        self.queue = queue
        # saq cancels a job running longer than this (and its sweep frees the key of a job whose worker died after
        # it): the same age after which the database takes a claim to be abandoned.
        self.job_timeout_s = max(1, round(job_timeout_s))
        self._puts: set[asyncio.Task[bool]] = set()

    def enqueue(self, draft_id: str) -> None:
        """Send the job to Redis in the background; if that fails the draft waits in the database for a sweep."""
        task = asyncio.get_running_loop().create_task(self.put(draft_id), name="drafter-enqueue")
        self._puts.add(task)
        task.add_done_callback(self._puts.discard)

    async def put(self, draft_id: str) -> bool:
        """Enqueue the draft's job now; True if it is new, False if one is queued or running already (or Redis
        failed: logged, the sweep enqueues it later)."""
        job = Job(function=JOB, key=draft_id, kwargs={"draft_id": draft_id}, timeout=self.job_timeout_s,
                  retries=1, ttl=-1)  # no retries: the pipeline stores a failure on the draft; ttl -1 keeps nothing
        try:
            return await asyncio.wait_for(self.queue.enqueue(job), timeout=_ENQUEUE_TIMEOUT_S) is not None
        except Exception as exc:  # redis-py's errors, or our timeout: the draft is stored, so log and go on
            log.warning("could not enqueue a draft; it waits in the database for the next sweep",
                        extra={"error_type": type(exc).__name__})
        return False

    async def depth(self) -> int:
        """Jobs waiting in Redis (not yet taken by a worker)."""
        return await self.queue.count("queued")

    async def flush(self) -> None:
        """Wait for the jobs being sent to Redis (tests, and shutdown: an accepted message gets its job)."""
        while self._puts:
            await asyncio.gather(*list(self._puts), return_exceptions=True)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RedisDraftJobs]:
        """Connect to the queue; on exit, finish sending jobs and disconnect."""
        await self.queue.connect()
        try:
            yield self
        finally:
            await self.flush()
            try:
                await self.queue.disconnect()
            except Exception as exc:  # Redis is away: nothing of ours is left to close on it
                log.warning("could not disconnect from the job queue", extra={"error_type": type(exc).__name__})


class QueueWorker:
    """Drafts jobs from the queue with up to `concurrency` at once, and sweeps the database for waiting drafts."""

    def __init__(self, *, jobs: RedisDraftJobs, writer: DraftWriter, store: DraftStore, concurrency: int = 10,
                 sweep_every_s: float = 5.0, stale_after_s: float = 600.0, sweep_limit: int = 100) -> None:
        self.jobs, self.writer, self.store = jobs, writer, store
        self.sweep_every_s, self.sweep_limit = sweep_every_s, sweep_limit
        self.stale_after = timedelta(seconds=stale_after_s)
        self.saq: Worker[Any] = Worker(jobs.queue, functions=[(JOB, self._job)], concurrency=concurrency)
        self.saq.SIGNALS = []  # signals are the entry point's business (run_worker); tests run several workers
        self._stopping = asyncio.Event()

    async def _job(self, ctx: Any, *, draft_id: str) -> bool:
        try:
            return await self.writer.write(draft_id)  # False: another worker had claimed it, or it was done already
        except Exception as exc:  # e.g. the database went away while claiming: the sweep enqueues it again later
            # saq would log the traceback, and a database error's text may quote the statement: the type only.
            log.warning("pre-generation job failed", extra={"error_type": type(exc).__name__})
            return False

    async def sweep(self) -> int:
        """Enqueue the drafts the database says are waiting (queued, or claimed by a worker that died); return how
        many got a new job (a draft whose job is already queued or running keeps that one)."""
        waiting = await self.store.pending_generation(stale_before=utcnow() - self.stale_after,
                                                      limit=self.sweep_limit)
        added = 0
        for draft_id in waiting:
            added += await self.jobs.put(draft_id)
        return added

    async def _sweep_forever(self) -> None:
        while True:
            try:
                if added := await self.sweep():
                    log.info("re-enqueued waiting drafts", extra={"drafts": added})
            except Exception as exc:  # the database may be away for a while: keep the worker alive
                log.warning("pre-generation sweep failed", extra={"error_type": type(exc).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.sweep_every_s)
            if self._stopping.is_set():
                return

    async def run(self) -> None:
        """Work until `stop()` (or `request_stop()`); the drafts being written are then handed back to the database
        and their jobs to the queue, so the next worker writes them at once."""
        if self._stopping.is_set():  # asked to stop before it started
            return
        sweeper = asyncio.create_task(self._sweep_forever(), name="drafter-queue-sweep")
        try:
            await self.saq.start()
        finally:
            self._stopping.set()
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    def request_stop(self) -> None:
        """Make `run()` stop (safe from a signal handler); it hands the drafts being written back on its way out."""
        self._stopping.set()
        self.saq.event.set()

    async def stop(self) -> None:
        """Stop taking jobs and hand the drafts being written back; returns when they are."""
        self.request_stop()
        await self.saq.stop()

    @classmethod
    def from_settings(cls, settings: Settings, *, jobs: RedisDraftJobs, writer: DraftWriter, store: DraftStore,
                      concurrency: int | None = None) -> QueueWorker:
        """A worker configured by DRAFTER_QUEUE_* and DRAFTER_PREGENERATE_* settings."""
        return cls(jobs=jobs, writer=writer, store=store, concurrency=concurrency or settings.queue_concurrency,
                   sweep_every_s=settings.pregenerate_sweep_s, stale_after_s=settings.pregenerate_stale_after_s,
                   sweep_limit=settings.pregenerate_queue_size)


def describe(settings: Settings) -> str:
    """The queue for a log line: name, host, port and database, never a password in the URL."""
    url = urlsplit(settings.queue_url)
    return f"{settings.queue_name} on {url.scheme}://{url.hostname or ''}{f':{url.port}' if url.port else ''}{url.path}"


@contextlib.contextmanager
def serving_metrics(metrics: Metrics, *, port: int) -> Iterator[str]:
    """Serve the registry on http://127.0.0.1:PORT/metrics from a thread while the block runs; yield that URL.

    Loopback only, like the API's /metrics (drafter.api.policy): a local agent or proxy scrapes it.
    """
    try:
        server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(f"DRAFTER_WORKER_METRICS_PORT={port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                          "give each worker on this machine its own port, or 0 for no metrics.") from exc
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def run_worker(settings: Settings, *, concurrency: int | None = None, llm: LLM | None = None,
                     on_ready: Callable[[QueueWorker, str | None], None] | None = None) -> None:
    """`drafter worker`: the services `drafter serve` builds, a queue worker on them, until SIGTERM or SIGINT.

    `on_ready` gets the worker and the URL of its metrics (None when DRAFTER_WORKER_METRICS_PORT is 0).
    """
    port = settings.worker_metrics_port
    # This process drafts, so the model's latency, tokens and findings are counted here, when they can be read.
    metrics = Metrics() if port else None
    async with open_services(settings, llm=llm, recover=True, observer=metrics) as services:
        writer = DraftWriter(pipeline=services.pipeline, store=services.store, progress=DraftProgress(),
                             stale_after_s=settings.pregenerate_stale_after_s)
        jobs = RedisDraftJobs(open_queue(settings), job_timeout_s=settings.pregenerate_stale_after_s)
        with serving_metrics(metrics, port=port) if metrics else contextlib.nullcontext() as metrics_url:
            async with jobs.running():
                worker = QueueWorker.from_settings(settings, jobs=jobs, writer=writer, store=services.store,
                                                   concurrency=concurrency)
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):  # a clean stop hands claimed drafts back
                    loop.add_signal_handler(signum, worker.request_stop)
                try:
                    freeze_startup_heap()
                    if on_ready is not None:
                        on_ready(worker, metrics_url)
                    await worker.run()
                finally:
                    for signum in (signal.SIGINT, signal.SIGTERM):
                        loop.remove_signal_handler(signum)
