"""Engine construction from a plain database URL; SQLite gets WAL and a busy timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession


def async_url(url: str) -> str:
    """Map the URLs users type (sqlite:///x.db, postgresql://...) to the async drivers we ship."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def display_url(url: str) -> str:
    """The URL with its password masked, for messages a terminal or a log collector keeps."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # the settings validator rejects bad URLs first; never echo one we cannot parse
        return "<unparseable database URL>"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode across application crashes
    cursor.close()


def create_engine(url: str, *, echo: bool = False, pool_size: int = 20, max_overflow: int = 10) -> AsyncEngine:
    """An async engine for the URL; creates the SQLite file's folder when needed.

    PostgreSQL connections are pooled: `pool_size` stay open; up to `max_overflow` more are opened under bursts and
    closed when returned. Opening one costs a server backend and asyncpg's type introspection, so a pool too small
    for the load keeps opening and closing connections instead of serving requests.
    """
    full = async_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # No pool-level ROLLBACK when a connection goes back to the pool: every session here ends with COMMIT or
        # its own ROLLBACK already, and with aiosqlite each call is a hop to its thread (one saved per transaction).
        engine = create_async_engine(full, echo=echo, pool_reset_on_return=None)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(full, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


def sqlite_twin(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file, disposed with `engine`; None for other databases.

    aiosqlite runs each driver call (execute, fetch, close a cursor, commit) as a hop to its own thread: three to
    four per statement, which cost more CPU than the statements. The store runs a whole transaction on this twin in
    one hop to a worker thread instead (bench/overhead.py, README "At scale"). An in-memory database has no twin:
    a second connection would open a second, empty database.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    twin = create_sync_engine(url.set(drivername="sqlite+pysqlite"), echo=engine.echo, pool_reset_on_return=None)
    event.listen(twin, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "engine_disposed", lambda _engine: twin.dispose())
    return twin


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
