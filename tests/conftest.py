"""Shared fixtures: isolated env, a FakeLLM you enqueue replies into, apps and databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drafter.api.app import create_app
from drafter.identity import Role
from drafter.llm.base import Delta, LLMRequest, LLMResult, PromptMode, StreamEvent, Usage
from drafter.settings import Settings

PG_ADMIN_URL = os.environ.get("DRAFTER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARED = Path(__file__).resolve().parents[2] / "shared"


class FakeLLM:
    """An LLM you script: enqueue texts, LLMResults or exceptions; it records every request it gets."""

    def __init__(self, *, prompt_mode: PromptMode = "chat", name: str = "fake") -> None:
        self._replies: deque[str | LLMResult | BaseException] = deque()
        self.requests: list[LLMRequest] = []
        self._mode: PromptMode = prompt_mode
        self._name = name
        self.default: str | None = None  # reply used when the queue is empty
        self.ping_error: BaseException | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def prompt_mode(self) -> PromptMode:
        return self._mode

    def enqueue(self, *replies: str | LLMResult | BaseException) -> FakeLLM:
        """Queue replies in order; a string becomes a normal completion."""
        self._replies.extend(replies)
        return self

    def _next(self) -> LLMResult:
        if self._replies:
            reply = self._replies.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise AssertionError("FakeLLM got a request but no reply was enqueued")
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, str):
            return LLMResult(text=reply, model="fake-model", usage=Usage(100, len(reply.split())))
        return reply

    async def complete(self, request: LLMRequest) -> LLMResult:
        self.requests.append(request)
        return self._next()

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        result = self._next()
        for word in result.text.split(" "):
            yield Delta(word + " ")
            await asyncio.sleep(0)
        yield result

    async def ping(self) -> None:
        if self.ping_error:
            raise self.ping_error


GOOD_REPLY = (
    "Thank you for telling us about your headache, and I am sorry it has lasted three days. "
    "Your care team will review your message today and reply with next steps. If you have a sudden severe "
    "headache, weakness or trouble speaking, please call 911. Please write back with any questions.\n[CLINICIAN_NAME]"
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DRAFTER_*/OPENAI_* variables or .env from the developer's shell; run inside a temp folder."""
    for key in list(os.environ):
        if key.startswith(("DRAFTER_", "OPENAI_")) and key != "DRAFTER_TEST_PG_ADMIN":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a temporary SQLite file with an explicit (never contacted) remote endpoint."""
    # The template-only fallback is off here so failure-path tests see the failure; tests/api/test_faults.py
    # switches it on.
    return Settings(database_url=f"sqlite:///{tmp_path}/drafter.db", llm_base_url="http://llm.invalid/v1",
                    llm_api_key="test-key", after_hours_phone="555-0100", practice_name="Test Clinic",
                    llm_fallback=False)


@pytest.fixture
def app_client(settings: Settings, fake_llm: FakeLLM) -> Iterator[TestClient]:
    """The real app (lifespan, migrations, guardrails) with the FakeLLM as backend; sends no token."""
    with TestClient(create_app(settings, llm=fake_llm), raise_server_exceptions=False) as test_client:
        yield test_client


def _sibling(app_client: TestClient, headers: dict[str, str] | None = None) -> TestClient:
    """Another client on the same running app; it shares the lifespan's event loop (the services live there)."""
    sibling = TestClient(app_client.app, raise_server_exceptions=False, headers=headers)
    sibling.portal = app_client.portal
    return sibling


@pytest.fixture
def tokens(app_client: TestClient) -> Callable[[Role | str], str]:
    """tokens(role) -> a bearer token of a user with that role (one user per role and test)."""
    made: dict[Role, str] = {}

    def token(role: Role | str) -> str:
        role = Role(role)
        if role not in made:
            accounts = app_client.app.state.authenticator.accounts  # type: ignore[attr-defined]
            assert app_client.portal is not None
            _, made[role] = app_client.portal.call(partial(accounts.create_user, f"test-{role}", role, actor="tests"))
        return made[role]

    return token


@pytest.fixture
def client_for(app_client: TestClient, tokens: Callable[[Role | str], str]) -> Callable[[Role | str], TestClient]:
    """client_for(role) -> a client on the running app authenticated as a user with that role."""
    clients: dict[Role, TestClient] = {}

    def make(role: Role | str) -> TestClient:
        role = Role(role)
        if role not in clients:
            clients[role] = _sibling(app_client, {"Authorization": f"Bearer {tokens(role)}"})
        return clients[role]

    return make


@pytest.fixture
def client(client_for: Callable[[Role | str], TestClient]) -> TestClient:
    """The real app with the FakeLLM as backend, authenticated as a clinician (user "test-clinician")."""
    return client_for(Role.CLINICIAN)


@pytest.fixture
def anon_client(app_client: TestClient) -> TestClient:
    """The running app without any token."""
    return _sibling(app_client)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    dsn = PG_ADMIN_URL
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the local server for this test session, dropped afterwards."""
    name = f"drafter_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__}: {exc}). Start it with "
                    "./scripts/services (the test script does this) or set DRAFTER_TEST_PG_ADMIN.", pytrace=False)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test against SQLite and against the local PostgreSQL server (each test gets a clean schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(reset_pg_schema(url))
    yield url


async def reset_pg_schema(url: str) -> None:
    """Empty the session's PostgreSQL database (each test gets a clean schema)."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
