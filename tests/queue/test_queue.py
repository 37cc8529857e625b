"""Pre-generation on the Redis job queue: the API enqueues, queue workers draft, each message exactly once.

Real Redis and PostgreSQL; every test has its own queue name (tests/queue/conftest.py) and its own schema.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from drafter.api.app import create_app
from drafter.errors import ConfigError
from drafter.identity import Role
from drafter.jobs import DraftWriter
from drafter.llm.base import LLMRequest, LLMResult, StreamEvent
from drafter.progress import DraftProgress
from drafter.queue import QueueWorker, RedisDraftJobs, open_queue, run_worker
from drafter.services import Services, open_services
from drafter.settings import Settings
from drafter.storage.models import utcnow
from drafter.storage.repository import DraftStore
from drafter.testing.fake_openai import free_port
from tests.conftest import GOOD_REPLY, FakeLLM
from tests.inbox.test_pregeneration import KNEE, WAITING, StalledLLM
from tests.storage.support import request

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


class SlowLLM(FakeLLM):
    """GOOD_REPLY after a short wait, so several drafts are in flight at once."""

    def __init__(self, delay_s: float = 0.02) -> None:
        super().__init__()
        self.default, self.delay_s = GOOD_REPLY, delay_s

    async def complete(self, request: LLMRequest) -> LLMResult:
        await asyncio.sleep(self.delay_s)
        return await super().complete(request)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        await asyncio.sleep(self.delay_s)
        async for event in super().stream(request):
            yield event


def queue_jobs(settings: Settings) -> RedisDraftJobs:
    return RedisDraftJobs(open_queue(settings), job_timeout_s=settings.pregenerate_stale_after_s)


@asynccontextmanager
async def running_worker(settings: Settings, services: Services, *, concurrency: int = 2,
                         stale_after_s: float | None = None) -> AsyncIterator[QueueWorker]:
    """A queue worker (what `drafter worker` runs) on the services, stopped on exit."""
    stale = stale_after_s if stale_after_s is not None else settings.pregenerate_stale_after_s
    async with queue_jobs(settings).running() as jobs:
        writer = DraftWriter(pipeline=services.pipeline, store=services.store, progress=DraftProgress(),
                             stale_after_s=stale)
        worker = QueueWorker(jobs=jobs, writer=writer, store=services.store, concurrency=concurrency,
                             sweep_every_s=settings.pregenerate_sweep_s, stale_after_s=stale)
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            await worker.stop()
            await task


async def wait_all(store: DraftStore, ids: list[str], within_s: float = 20.0) -> list[str]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        statuses = [(await store.get(i)).status for i in ids]
        if not WAITING & set(statuses):
            return statuses
        await asyncio.sleep(0.02)
    raise AssertionError(f"drafts still waiting: {statuses}")


async def accept(services: Services, count: int) -> list[str]:
    """Messages accepted as POST /v1/messages does, without a job: as if Redis had been away."""
    return [(await services.pipeline.accept(request(f"Question {i} about my knee."), source="api"))[1]
            for i in range(count)]


def sample(text: str, name: str, labels: dict[str, str]) -> float:
    return next(s.value for family in text_string_to_metric_families(text) for s in family.samples
                if s.name == name and s.labels == labels)


def gauge(text: str, queue: str) -> float:
    return sample(text, "drafter_queue_depth", {"queue": queue})


async def test_a_message_posted_to_the_api_is_drafted_by_a_queue_worker(queue_settings: Settings) -> None:
    api_llm = FakeLLM()  # no replies: the API process must not draft (FakeLLM fails the draft if it is asked)
    app = create_app(queue_settings, llm=api_llm)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.jobs, RedisDraftJobs)
        _, token = await app.state.authenticator.accounts.create_user("dr.queue", Role.CLINICIAN, actor="tests")
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50123))
        async with httpx.AsyncClient(transport=transport, base_url="http://drafter.test",
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            accepted = [(await http.post("/v1/messages", json=KNEE)).json() for _ in range(2)]
            assert {a["status"] for a in accepted} == {"queued"}
            await app.state.jobs.flush()
            metrics = (await http.get("/metrics")).text
            assert gauge(metrics, "database") == 2  # the queue of record
            assert gauge(metrics, "redis") == 2  # and the jobs waiting for a worker

            worker_llm = SlowLLM()
            async with open_services(queue_settings, llm=worker_llm) as services, \
                    running_worker(queue_settings, services):
                ids = [a["id"] for a in accepted]
                assert await wait_all(services.store, ids) == ["pending_review", "pending_review"]
            draft = (await http.get(f"/v1/drafts/{ids[0]}")).json()
            assert draft["text"].startswith(GOOD_REPLY.split(".")[0])
            metrics = (await http.get("/metrics")).text
            assert (gauge(metrics, "database"), gauge(metrics, "redis")) == (0, 0)
    assert api_llm.requests == []
    assert len(worker_llm.requests) == 2


async def test_a_duplicate_enqueue_is_one_job_and_the_draft_is_written_once(queue_settings: Settings) -> None:
    llm = SlowLLM()
    async with open_services(queue_settings, llm=llm) as services, queue_jobs(queue_settings).running() as jobs:
        [draft_id] = await accept(services, 1)
        assert await jobs.put(draft_id) is True
        assert await jobs.put(draft_id) is False  # same key, still queued: saq keeps the one job
        assert await jobs.depth() == 1
        async with running_worker(queue_settings, services):
            assert await wait_all(services.store, [draft_id]) == ["pending_review"]
            await wait_jobs_done(jobs, [draft_id])  # the draft is stored a moment before its job is done
            assert await jobs.put(draft_id) is True  # the job is gone once done; a late one is skipped at claim
            await wait_jobs_done(jobs, [draft_id])
    assert len(llm.requests) == 1


async def wait_jobs_done(jobs: RedisDraftJobs, keys: list[str], within_s: float = 10.0) -> None:
    """Until saq has finished (and, ttl -1, deleted) these jobs."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if all([await jobs.queue.job(key) is None for key in keys]):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("jobs still in the queue")


async def test_two_workers_on_one_queue_never_draft_a_message_twice(queue_settings: Settings) -> None:
    llm = SlowLLM(delay_s=0.03)
    async with open_services(queue_settings, llm=llm) as services, queue_jobs(queue_settings).running() as jobs:
        ids = await accept(services, 30)
        for draft_id in ids:  # each twice, and both workers' sweeps enqueue the waiting ones again
            jobs.enqueue(draft_id)
            jobs.enqueue(draft_id)
        await jobs.flush()
        async with running_worker(queue_settings, services, concurrency=3), \
                running_worker(queue_settings, services, concurrency=3):
            statuses = await wait_all(services.store, ids)
    assert set(statuses) == {"pending_review"}
    assert len(llm.requests) == 30
    asked = [r.messages[-1].content for r in llm.requests]
    assert all(sum(f"Question {i} " in text for text in asked) == 1 for i in range(30))


async def test_a_job_whose_draft_is_already_claimed_is_skipped(queue_settings: Settings) -> None:
    llm = SlowLLM()
    async with open_services(queue_settings, llm=llm) as services, queue_jobs(queue_settings).running() as jobs:
        [draft_id] = await accept(services, 1)
        assert await services.store.claim(draft_id, stale_before=utcnow())  # another worker is writing it
        assert await jobs.put(draft_id)
        async with running_worker(queue_settings, services):
            await wait_jobs_done(jobs, [draft_id])
        assert (await services.store.get(draft_id)).status == "generating"  # left to the worker that has it
    assert llm.requests == []


async def test_waiting_drafts_are_written_after_a_restart_even_without_their_jobs(queue_settings: Settings) -> None:
    """Drafts accepted while Redis was away, and one a worker that died had claimed, are found by the sweep."""
    llm = SlowLLM()
    async with open_services(queue_settings, llm=llm) as services:
        lost = await accept(services, 3)  # no job in Redis at all
        [abandoned] = await accept(services, 1)
        assert await services.store.claim(abandoned, stale_before=utcnow())  # by a worker that died
        await asyncio.sleep(0.05)
        async with running_worker(queue_settings, services, stale_after_s=0.01):
            statuses = await wait_all(services.store, [*lost, abandoned])
    assert set(statuses) == {"pending_review"}
    assert len(llm.requests) == 4


async def test_stopping_a_worker_hands_its_draft_and_job_back(queue_settings: Settings) -> None:
    stalled = StalledLLM()
    async with open_services(queue_settings, llm=stalled) as services, queue_jobs(queue_settings).running() as jobs:
        [draft_id] = await accept(services, 1)
        await jobs.put(draft_id)
        async with running_worker(queue_settings, services):
            await wait_status(services.store, draft_id, "generating")
        stalled.release.set()  # lets the orphaned model thread end; the job was already cancelled
        draft = await services.store.get(draft_id)
        assert (draft.status, draft.claimed_at) == ("queued", None)
        assert await jobs.depth() == 1  # saq put the job back: the next worker writes it at once

        stalled.requests.clear()
        async with running_worker(queue_settings, services):
            assert await wait_all(services.store, [draft_id]) == ["pending_review"]
    assert len(stalled.requests) == 1


async def wait_status(store: DraftStore, draft_id: str, status: str, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if (await store.get(draft_id)).status == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"draft never became {status}")


async def test_enqueue_with_redis_away_loses_nothing(queue_settings: Settings, caplog: Any) -> None:
    """The draft is stored before the job is sent; a failed send is logged (no text) and the sweep recovers it."""
    away = Settings(**{**queue_settings.model_dump(exclude_unset=True), "queue_url": "redis://127.0.0.1:1/0"},
                    _env_file=None)  # type: ignore[arg-type]
    llm = SlowLLM()
    async with open_services(queue_settings, llm=llm) as services:
        [draft_id] = await accept(services, 1)
        async with queue_jobs(away).running() as jobs:
            assert await jobs.put(draft_id) is False
        assert "could not enqueue a draft" in caplog.text
        assert "knee" not in caplog.text
        async with running_worker(queue_settings, services):
            assert await wait_all(services.store, [draft_id]) == ["pending_review"]
    assert len(llm.requests) == 1


def test_the_job_timeout_is_whole_seconds_and_never_none(queue_settings: Settings) -> None:
    jobs = RedisDraftJobs(open_queue(queue_settings), job_timeout_s=0.2)
    assert jobs.job_timeout_s == 1  # saq counts whole seconds, and 0 would mean no timeout at all


async def test_a_worker_serves_the_metrics_of_the_drafts_it_writes(queue_settings: Settings,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings = queue_settings.model_copy(update={"worker_metrics_port": free_port()})
    frozen: list[bool] = []

    def freeze() -> None:
        frozen.append(True)

    monkeypatch.setattr("drafter.queue.freeze_startup_heap", freeze)
    ready: asyncio.Queue[tuple[QueueWorker, str | None]] = asyncio.Queue()
    task = asyncio.create_task(run_worker(settings, llm=SlowLLM(), on_ready=lambda w, url: ready.put_nowait((w, url))))
    worker, url = await asyncio.wait_for(ready.get(), 30)
    try:
        assert frozen == [True]  # the startup heap, before the first draft (drafter.heap)
        assert url == f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
        async with open_services(settings, llm=FakeLLM()) as services, queue_jobs(settings).running() as jobs:
            [draft_id] = await accept(services, 1)
            assert await jobs.put(draft_id)
            assert await wait_all(services.store, [draft_id]) == ["pending_review"]
        async with httpx.AsyncClient() as http:
            text = (await http.get(url)).text
        assert sample(text, "drafter_drafts_total", {"status": "pending_review"}) == 1
        assert sample(text, "drafter_llm_tokens_total", {"backend": "fake", "kind": "completion"}) > 0
        assert sample(text, "drafter_llm_request_duration_seconds_count", {"backend": "fake", "outcome": "ok"}) == 1
        assert "knee" not in text.lower()  # counts and codes only
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 30)
    with pytest.raises(httpx.ConnectError):  # the metrics server stopped with the worker
        async with httpx.AsyncClient() as http:
            await http.get(url)


async def test_a_taken_metrics_port_is_a_clear_error(queue_settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = queue_settings.model_copy(update={"worker_metrics_port": taken.getsockname()[1]})
        with pytest.raises(ConfigError, match=r"DRAFTER_WORKER_METRICS_PORT=.*own port"):
            await run_worker(settings, llm=FakeLLM())
