"""Kill the real server (SIGKILL) in the middle of drafting, restart it: the message is there, the draft is marked
interrupted (never half-written), and regenerating it completes it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drafter.identity import Role
from drafter.storage.accounts import AccountStore
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.repository import DraftStore
from drafter.testing.fake_openai import DEFAULT_REPLY, FakeOpenAIServer, free_port

MESSAGE = "My blood pressure readings were high all week and I feel dizzy in the mornings."


async def clinician_token(database_url: str) -> str:
    """A clinician's bearer token on a freshly migrated database (as `drafter users create` would make)."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        _, token = await AccountStore(DraftStore(engine)).create_user("crash-clinician", Role.CLINICIAN,
                                                                      actor="tests")
    finally:
        await engine.dispose()
    return token


def start_server(port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "drafter.cli", "serve", "--port", str(port)], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"drafter serve exited with {proc.returncode} before it answered")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("drafter serve did not answer /healthz within 60 s")


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency_s=60) as srv:
        yield srv


def test_sigkill_mid_draft_leaves_the_message_and_an_interrupted_draft_that_regenerates(
        tmp_path: Path, fake: FakeOpenAIServer) -> None:
    db = tmp_path / "crash.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))} | {
        "DRAFTER_DATABASE_URL": f"sqlite:///{db}", "DRAFTER_LLM_BASE_URL": fake.base_url,
        "DRAFTER_LLM_API_KEY": "k", "DRAFTER_LLM_TIMEOUT_S": "120", "DRAFTER_LLM_FALLBACK": "false",
        "DRAFTER_LOG_LEVEL": "WARNING",
    }
    auth = {"Authorization": f"Bearer {asyncio.run(clinician_token(env['DRAFTER_DATABASE_URL']))}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, env, tmp_path)
    try:
        outcome: list[BaseException | int] = []

        def post() -> None:
            try:
                outcome.append(httpx.post(f"{base}/v1/drafts", json={"message": {"text": MESSAGE}},
                                          headers=auth, timeout=90).status_code)
            except httpx.TransportError as exc:
                outcome.append(exc)

        poster = threading.Thread(target=post)
        poster.start()
        deadline = time.monotonic() + 30
        while fake.requests == 0 and time.monotonic() < deadline:  # the model call is under way
            time.sleep(0.05)
        assert fake.requests == 1
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        poster.join(timeout=10)
        assert len(outcome) == 1 and isinstance(outcome[0], httpx.TransportError)  # no answer ever came

        # What the dead process left behind: the message, and a draft still 'generating' with no text.
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT text FROM messages").fetchall() == [(MESSAGE,)]
            assert conn.execute("SELECT status, text FROM drafts").fetchall() == [("generating", None)]

        fake.state.latency_s = 0.0
        server = start_server(port, env, tmp_path)
        drafts = httpx.get(f"{base}/v1/drafts", headers=auth, timeout=10).json()["items"]
        assert len(drafts) == 1
        interrupted = drafts[0]
        assert interrupted["status"] == "failed" and interrupted["text"] is None
        assert interrupted["error"]["code"] == "draft_interrupted"
        assert interrupted["message"]["text"] == MESSAGE

        again = httpx.post(f"{base}/v1/drafts/{interrupted['id']}/regenerate", headers=auth, timeout=30)
        assert again.status_code == 201, again.text
        assert again.json()["status"] in ("pending_review", "needs_clinician")
        assert again.json()["text"].startswith(DEFAULT_REPLY[:40])
        assert again.json()["message"]["id"] == interrupted["message"]["id"]
        old = httpx.get(f"{base}/v1/drafts/{interrupted['id']}", headers=auth, timeout=10).json()
        assert old["status"] == "superseded"
        assert fake.requests == 2
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
