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
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import BrowserContext, Page, sync_playwright

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
AXE_JS = (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
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


async def _create_user(settings: Settings, name: str, role: Role = Role.CLINICIAN) -> str:
    async with open_services(settings, llm=FakeLLM()) as services:  # also migrates the database
        _, token = await AccountStore(services.store).create_user(name, role, actor="tests")
    return token


@contextmanager
def serve(settings: Settings, llm: FakeLLM, *, user: str, role: Role = Role.CLINICIAN) -> Iterator[LiveServer]:
    """The whole app served over HTTP in a background thread, with the token of a new user of that role."""
    token = asyncio.run(_create_user(settings, user, role))
    port = _free_port()
    config = uvicorn.Config(create_app(settings, llm=llm), host="127.0.0.1", port=port, log_level="warning",
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
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as api:
            yield LiveServer(url, token, user, llm, api)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_server(tmp_path: Path, fake_llm: FakeLLM) -> Iterator[LiveServer]:
    """The whole app served over HTTP in a background thread, with a clinician's token."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/drafter.db", llm_base_url="http://llm.invalid/v1",
                        llm_api_key="test-key", after_hours_phone="555-0100", practice_name="Test Clinic",
                        pregenerate_sweep_s=0.1)
    with serve(settings, fake_llm, user="Dr. Rivera") as server:
        yield server


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


@pytest.fixture
def browser(chromium_path: str, tmp_path: Path) -> Iterator[tuple[BrowserContext, Page, list[str]]]:
    """A fresh Chromium profile and page; collects console errors (CSP violations show up there)."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 1000}, locale="en-US", timezone_id="UTC")
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            yield context, page, errors
        finally:
            context.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.evaluate(AXE_JS)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in found]
