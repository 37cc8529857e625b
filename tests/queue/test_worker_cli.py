"""`drafter worker` as its own process: it drafts from the queue, and SIGTERM hands the draft it is writing back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drafter.cli import main
from drafter.queue import open_queue
from drafter.services import open_services
from drafter.settings import Settings
from drafter.storage.engine import create_engine
from drafter.storage.repository import DraftStore
from drafter.testing.fake_openai import FakeOpenAIServer
from tests.queue.test_queue import queue_jobs
from tests.storage.support import request

pytestmark = pytest.mark.postgres


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency_s=60) as srv:  # the model call is under way until the worker is stopped
        yield srv


def worker_env(settings: Settings, fake: FakeOpenAIServer) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))} | {
        "DRAFTER_DATABASE_URL": settings.database_url, "DRAFTER_QUEUE_URL": settings.queue_url,
        "DRAFTER_QUEUE_NAME": settings.queue_name, "DRAFTER_LLM_BASE_URL": fake.base_url,
        "DRAFTER_LLM_API_KEY": "k", "DRAFTER_LLM_TIMEOUT_S": "120", "DRAFTER_LLM_FALLBACK": "false",
        "DRAFTER_LOG_LEVEL": "WARNING"}


async def accept_one(settings: Settings) -> str:
    """A message accepted by the API, with its job on the queue."""
    async with open_services(settings) as services, queue_jobs(settings).running() as jobs:
        _, draft_id = await services.pipeline.accept(request("My knee hurts on the stairs."), source="api")
        assert await jobs.put(draft_id)
        return draft_id


async def state(settings: Settings, draft_id: str) -> tuple[str, bool, int]:
    """The draft's status, whether it is claimed, and how many jobs wait in Redis."""
    engine = create_engine(settings.database_url)
    try:
        draft = await DraftStore(engine).get(draft_id)
    finally:
        await engine.dispose()
    queue = open_queue(settings)
    await queue.connect()
    try:
        return draft.status, draft.claimed_at is not None, await queue.count("queued")
    finally:
        await queue.disconnect()


def test_sigterm_hands_the_draft_being_written_back_to_the_queue(queue_settings: Settings, fake: FakeOpenAIServer,
                                                                 tmp_path: Path) -> None:
    settings = Settings(**{**queue_settings.model_dump(exclude_unset=True), "llm_base_url": fake.base_url},
                        _env_file=None)  # type: ignore[arg-type]
    draft_id = asyncio.run(accept_one(settings))
    log = tmp_path / "worker.err"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "drafter.cli", "worker", "--concurrency", "2"],
                                env=worker_env(settings, fake), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while fake.state.in_flight == 0:  # the worker took the job and waits for the model
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker never called the model"
            time.sleep(0.05)
        assert "ready, writing up to 2 drafts at once" in log.read_text()
        assert asyncio.run(state(settings, draft_id)) == ("generating", True, 0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert asyncio.run(state(settings, draft_id)) == ("queued", False, 1)  # the next worker writes it at once
    assert fake.requests == 1
    assert "knee" not in log.read_text()  # no patient text in the worker's logs


def test_worker_without_a_queue_says_what_to_set(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "argv", ["drafter", "worker"])
    monkeypatch.setenv("DRAFTER_DATABASE_URL", f"sqlite:///{tmp_path}/w.db")
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 78
    assert "DRAFTER_QUEUE_URL" in capsys.readouterr().err
