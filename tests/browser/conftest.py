"""A real server (uvicorn on a free loopback port, FakeLLM backend) and Debian's headless Chromium via Playwright.

No browser is ever downloaded: Playwright drives /usr/bin/chromium (installed by scripts/browser-deps from
Debian's packages). Screenshots go to test-artifacts/browser/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from drafter.api.app import create_app
from drafter.identity import Role
from drafter.services import open_services
from drafter.settings import Settings
from drafter.storage.accounts import AccountStore
from tests.conftest import FakeLLM

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Flags for Debian's Chromium as root in a closed network (see shared/PITFALLS.md): no sandbox, and none of the
# background traffic that would otherwise flood the network with refused connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class LiveServer:
    url: str
    token: str
    clinician: str
    llm: FakeLLM
    api: httpx.Client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _create_user(settings: Settings, name: str) -> str:
    async with open_services(settings, llm=FakeLLM()) as services:  # also migrates the database
        _, token = await AccountStore(services.store).create_user(name, Role.CLINICIAN, actor="tests")
    return token


@pytest.fixture
def live_server(tmp_path: Path, fake_llm: FakeLLM) -> Iterator[LiveServer]:
    """The whole app served over HTTP in a background thread, with a clinician's token."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/drafter.db", llm_base_url="http://llm.invalid/v1",
                        llm_api_key="test-key", after_hours_phone="555-0100", practice_name="Test Clinic",
                        pregenerate_sweep_s=0.1)
    name = "Dr. Rivera"
    token = asyncio.run(_create_user(settings, name))
    port = _free_port()
    config = uvicorn.Config(create_app(settings, llm=fake_llm), host="127.0.0.1", port=port, log_level="warning",
                            ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the app did not start", pytrace=False)
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        yield LiveServer(url, token, name, fake_llm, api)
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    found = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed: run ./scripts/browser-deps (./scripts/test does) or "
                    "`apt-get install -y chromium`.", pytrace=False)
    return str(found)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
