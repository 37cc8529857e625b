"""The app under a real uvicorn on loopback, and tokens made straight in its database (for logs and fuzz tests)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from drafter.identity import Role
from drafter.settings import Settings
from drafter.storage.accounts import AccountStore
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.models import ApiToken, utcnow
from drafter.storage.repository import DraftStore
from drafter.testing.fake_openai import free_port


@contextmanager
def serving(app: Any, *, access_log: bool = False) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread (uvicorn logs through whatever the root logger has); yield its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="debug",
                                           access_log=access_log))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_token(settings: Settings, name: str, role: Role, *, token: str | None = None) -> str:
    """Create a user in the settings' database (migrating it first) and return their token; with `token` (made
    earlier by `new_token()`, e.g. at import time for schemathesis), the user gets exactly that one."""

    async def make() -> str:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            store = DraftStore(engine)
            user, made = await AccountStore(store).create_user(name, role, actor="tests")
            if token is None:
                return made
            token_id, secret = token.removeprefix("drf_").split("_", 1)
            async with store.writing() as session:
                session.add(ApiToken(id=token_id, user_id=user.id, secret_sha256=hashlib.sha256(secret.encode())
                                     .hexdigest(), created_at=utcnow()))
            return token
        finally:
            await engine.dispose()

    return asyncio.run(make())
