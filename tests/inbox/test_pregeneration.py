"""Pre-generation: POST /v1/messages stores the message and a queued draft that a background worker writes.

Nothing accepted is lost: the database is the queue of record, so drafts resume after a restart or a full queue.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from drafter.api.app import create_app
from drafter.errors import LLMUnavailableError
from drafter.jobs import InProcessDraftJobs
from drafter.llm.base import LLMRequest, StreamEvent
from drafter.progress import DraftProgress
from drafter.services import open_services
from drafter.settings import Settings
from drafter.storage.models import utcnow
from tests.conftest import GOOD_REPLY, FakeLLM
from tests.inbox.support import sign_in

CHEST = {"message": {"text": "I have crushing chest pain spreading to my left arm and I feel sweaty"}}
KNEE = {"message": {"text": "My knee still hurts a little when I climb stairs, can I keep doing my exercises?"}}
WAITING = {"queued", "generating"}


def wait_done(client: TestClient, draft_id: str, *, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        draft: dict[str, Any] = client.get(f"/v1/drafts/{draft_id}").json()
        if draft["status"] not in WAITING:
            return draft
        time.sleep(0.02)
    raise AssertionError(f"draft {draft_id} still {draft['status']} after {timeout}s")


def test_message_is_accepted_at_once_and_drafted_in_the_background(settings: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.default = GOOD_REPLY
    with TestClient(create_app(settings, llm=fake_llm)) as client:
        sign_in(client)
        r = client.post("/v1/messages", json=CHEST)
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert accepted["status"] in WAITING  # the worker may already have started
        assert accepted["urgency"] == "emergency"  # triaged before the draft exists
        assert accepted["message"]["source"] == "api"
        draft = wait_done(client, accepted["id"])
    assert draft["status"] in {"pending_review", "needs_clinician"}
    assert draft["text"].startswith(GOOD_REPLY.split(".")[0])
    assert any(f["check"] == "urgency" and f["target"] == "message" for f in draft["findings"])
    assert len(fake_llm.requests) == 1


def test_a_pre_generated_draft_records_the_template_version_that_rendered_it(settings: Settings,
                                                                             fake_llm: FakeLLM) -> None:
    # The database's production label renders both: QA comparing template versions must see the same one.
    fake_llm.default = GOOD_REPLY
    with TestClient(create_app(settings, llm=fake_llm)) as client:
        sign_in(client)
        direct = client.post("/v1/drafts", json=KNEE).json()
        queued = wait_done(client, client.post("/v1/messages", json=KNEE).json()["id"])
        store = client.app.state.services.store  # type: ignore[attr-defined]
        assert client.portal is not None
        rows = [client.portal.call(store.get, d["id"]) for d in (direct, queued)]
    assert direct["template_set"] == queued["template_set"]
    assert rows[0].template_version_id is not None
    assert rows[0].template_version_id == rows[1].template_version_id


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"message": {"text": "  "}}, 422, "message_empty"),
    ({"message": {"text": "x" * 20_001}}, 413, "message_too_long"),
    ({"message": {"text": "hi"}, "surprise": 1}, 422, "invalid_input"),
])
def test_bad_messages_are_refused_before_anything_is_stored(client: TestClient, fake_llm: FakeLLM,
                                                           body: dict[str, Any], status: int, code: str) -> None:
    r = client.post("/v1/messages", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert client.get("/v1/drafts", params={"status": ["queued", "generating"]}).json()["items"] == []
    assert fake_llm.requests == []


def test_queued_emergencies_sort_first_before_their_drafts_exist(settings: Settings) -> None:
    """With the model stalled, the inbox still shows the emergency first (triage happens on acceptance)."""
    stalled = StalledLLM()
    with TestClient(create_app(settings, llm=stalled)) as client:
        sign_in(client)
        knee = client.post("/v1/messages", json=KNEE).json()
        chest = client.post("/v1/messages", json=CHEST).json()
        items = client.get("/v1/drafts", params={"status": ["queued", "generating"]}).json()["items"]
        assert [d["id"] for d in items] == [chest["id"], knee["id"]]
        stalled.release.set()
        wait_done(client, chest["id"])
        wait_done(client, knee["id"])


class StalledLLM(FakeLLM):
    """Streams nothing until `release` is set; then streams GOOD_REPLY a word at a time, slowly."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        super().__init__()
        self.default = GOOD_REPLY
        self.release = threading.Event()  # set from the test's thread
        self.delay_s = delay_s

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        await asyncio.to_thread(self.release.wait)
        async for event in super().stream(request):
            await asyncio.sleep(self.delay_s)
            yield event


def test_the_draft_streams_in_while_it_is_written(settings: Settings) -> None:
    slow = StalledLLM(delay_s=0.02)
    slow.release.set()
    with TestClient(create_app(settings, llm=slow)) as client:
        sign_in(client)
        draft_id = client.post("/v1/messages", json=KNEE).json()["id"]
        events: list[tuple[str, Any]] = []
        with client.stream("GET", f"/v1/drafts/{draft_id}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for block in response.iter_text():
                events.extend(parse_sse(block))
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "draft"
    assert "token" in kinds  # tokens arrived before the stored draft
    streamed = "".join(d["text"] for kind, d in events if kind in {"text", "token"})
    final = events[-1][1]
    assert final["status"] == "pending_review"
    assert streamed.split() == final["text"].split()[: len(streamed.split())]


def parse_sse(block: str) -> list[tuple[str, Any]]:
    import json

    out = []
    for chunk in block.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines() if ": " in line)
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_events_of_a_finished_draft_are_just_the_draft(settings: Settings, fake_llm: FakeLLM) -> None:
    fake_llm.default = GOOD_REPLY
    with TestClient(create_app(settings, llm=fake_llm)) as client:
        sign_in(client)
        draft_id = client.post("/v1/messages", json=KNEE).json()["id"]
        done = wait_done(client, draft_id)
        body = client.get(f"/v1/drafts/{draft_id}/events").text
        assert parse_sse(body) == [("draft", done)]
        assert client.get("/v1/drafts/nope/events").json()["error"]["code"] == "not_found"


def test_a_failed_model_call_is_stored_on_the_draft_and_the_worker_goes_on(settings: Settings,
                                                                          fake_llm: FakeLLM) -> None:
    fake_llm.enqueue(LLMUnavailableError("busy"), GOOD_REPLY)
    with TestClient(create_app(settings, llm=fake_llm)) as client:
        sign_in(client)
        first = client.post("/v1/messages", json=KNEE).json()["id"]
        failed = wait_done(client, first)
        second = client.post("/v1/messages", json=CHEST).json()["id"]
        assert wait_done(client, second)["status"] == "pending_review"
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "llm_unavailable"
        # the message is kept: drafting again works
        fake_llm.enqueue(GOOD_REPLY)
        assert client.post(f"/v1/drafts/{first}/regenerate").json()["status"] == "pending_review"


@pytest.mark.anyio
async def test_waiting_drafts_resume_after_a_restart(settings: Settings, fake_llm: FakeLLM) -> None:
    """Drafts accepted by a process that stopped before writing them are written by the next one."""
    from tests.storage.support import request

    async with open_services(settings, llm=fake_llm) as services:  # accepted, but no worker ran
        ids = [(await services.pipeline.accept(request(text), source="api"))[1]
               for text in ("My knee hurts.", "Can I get my flu shot here?", "My rash is itchy.")]
        # and one a dead worker had claimed long ago
        stale = (await services.pipeline.accept(request("My back aches."), source="api"))[1]
        assert await services.store.claim(stale, stale_before=utcnow())
        assert not await services.store.claim(stale, stale_before=utcnow() - timedelta(minutes=5))

    fake_llm.default = GOOD_REPLY
    async with open_services(settings, llm=fake_llm) as services:
        progress = DraftProgress()
        jobs = InProcessDraftJobs(pipeline=services.pipeline, store=services.store, progress=progress,
                                  stale_after_s=0.01, sweep_every_s=0.05)
        await asyncio.sleep(0.02)
        async with jobs.running():
            await wait_all(services.store, [*ids, stale])
        statuses = {(await services.store.get(i)).status for i in [*ids, stale]}
    assert statuses == {"pending_review"}
    assert len(fake_llm.requests) == 4


async def wait_all(store: Any, ids: list[str], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        statuses = [(await store.get(i)).status for i in ids]
        if not WAITING & set(statuses):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("drafts still waiting")


@pytest.mark.parametrize(("queue_size", "workers", "messages"), [(1, 1, 5), (2, 2, 7), (50, 1, 3)])
@pytest.mark.anyio
async def test_nothing_is_lost_when_the_queue_is_full(settings: Settings, fake_llm: FakeLLM, queue_size: int,
                                                     workers: int, messages: int) -> None:
    from tests.storage.support import request

    fake_llm.default = GOOD_REPLY
    async with open_services(settings, llm=fake_llm) as services:
        jobs = InProcessDraftJobs(pipeline=services.pipeline, store=services.store, progress=DraftProgress(),
                                  workers=workers, queue_size=queue_size, sweep_every_s=0.05)
        async with jobs.running():
            ids = []
            for i in range(messages):
                _, draft_id = await services.pipeline.accept(request(f"Question {i} about my knee."), source="api")
                jobs.enqueue(draft_id)  # beyond the queue size these wait in the database for the sweep
                ids.append(draft_id)
            await wait_all(services.store, ids)
    assert len(fake_llm.requests) == messages  # each drafted exactly once


@pytest.mark.anyio
async def test_stopping_hands_an_unfinished_draft_back(settings: Settings, tmp_path: Path) -> None:
    from tests.storage.support import request

    stalled = StalledLLM()
    async with open_services(settings, llm=stalled) as services:
        jobs = InProcessDraftJobs(pipeline=services.pipeline, store=services.store, progress=DraftProgress())
        async with jobs.running():
            _, draft_id = await services.pipeline.accept(request("My knee hurts."), source="api")
            jobs.enqueue(draft_id)
            for _ in range(500):
                if (await services.store.get(draft_id)).status == "generating":
                    break
                await asyncio.sleep(0.01)
        stalled.release.set()  # lets the orphaned model thread end; the worker was already cancelled
        assert (await services.store.get(draft_id)).status == "queued"  # the next start writes it at once
