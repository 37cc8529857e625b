"""The OpenAI client's connection pool: upstream's decisions in one linear pass, one free connection per request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpcore
import httpx
import pytest
from httpcore._async.connection_pool import AsyncPoolRequest
from httpcore._async.interfaces import AsyncConnectionInterface

from drafter.llm import pool as pool_module
from drafter.llm.pool import LinearConnectionPool, pooled_transport
from drafter.testing.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.anyio

A = httpcore.Origin(b"http", b"a.test", 80)
B = httpcore.Origin(b"http", b"b.test", 80)


class Connection(AsyncConnectionInterface):
    """Enough of httpcore's connection interface for the assignment pass: a state, an origin, an expiry."""

    def __init__(self, name: str, state: str = "idle", *, origin: httpcore.Origin = A, expired: bool = False) -> None:
        self.name, self.state, self.origin, self.expired = name, state, origin, expired
        self.expiry_checks = 0

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_available(self) -> bool:
        return self.state == "idle"

    def is_idle(self) -> bool:
        return self.state == "idle"

    def is_closed(self) -> bool:
        return self.state == "closed"

    def has_expired(self) -> bool:
        self.expiry_checks += 1
        return self.expired

    def __repr__(self) -> str:
        return self.name


def make_pool(*connections: Connection, max_connections: int = 10, keepalive: int = 10,
              swept: bool = False) -> LinearConnectionPool:
    pool = LinearConnectionPool(max_connections=max_connections, max_keepalive_connections=keepalive)
    pool._connections = list(connections)
    if swept:  # as if a sweep had just run, so this pass polls only what it hands out
        pool._swept_at = float("inf")
    return pool


def queue(pool: LinearConnectionPool, origin: httpcore.Origin = A, *,
          connection: Connection | None = None) -> AsyncPoolRequest:
    request = AsyncPoolRequest(httpcore.Request("GET", f"http://{origin.host.decode()}/"))
    if connection is not None:
        request.assign_to_connection(connection)
    pool._requests.append(request)
    return request


async def test_one_idle_connection_goes_to_one_of_two_queued_requests() -> None:
    idle = Connection("idle")
    pool = make_pool(idle)
    first, second = queue(pool), queue(pool)
    assert pool._assign_requests_to_connections() == []
    assert first.connection is idle
    # Upstream hands `idle` to both; the loser fails with ConnectionNotAvailable and runs the pass again.
    assert second.connection is not None and second.connection is not idle
    assert second.connection.can_handle_request(A)


async def test_a_connection_handed_to_a_request_that_has_not_started_is_neither_reused_nor_closed() -> None:
    spoken_for, idle = Connection("spoken_for"), Connection("idle")
    pool = make_pool(spoken_for, idle, keepalive=1)
    queue(pool, connection=spoken_for)
    waiting = queue(pool)
    assert pool._assign_requests_to_connections() == []
    assert waiting.connection is idle
    assert pool._connections == [spoken_for, idle]


@pytest.mark.parametrize(("states", "keepalive", "closed"), [
    (["idle", "active", "active", "active"], 1, []),  # upstream closes the idle one: it counts all four
    (["idle", "idle", "idle", "active"], 1, ["c0", "c1"]),  # the longest kept go first
    (["idle", "idle"], 2, []),
], ids=["counts-idle-only", "oldest-first", "at-the-limit"])
async def test_idle_connections_above_the_keepalive_limit_are_closed(states: list[str], keepalive: int,
                                                               closed: list[str]) -> None:
    connections = [Connection(f"c{i}", state) for i, state in enumerate(states)]
    pool = make_pool(*connections, keepalive=keepalive)
    assert [c.name for c in pool._assign_requests_to_connections()] == closed  # type: ignore[attr-defined]
    assert [c.name for c in pool._connections] == [c.name for c in connections if c.name not in closed]  # type: ignore[attr-defined]


async def test_closed_connections_leave_the_pool_without_being_closed_again() -> None:
    gone, kept = Connection("gone", "closed"), Connection("kept", "active")
    pool = make_pool(gone, kept)
    assert pool._assign_requests_to_connections() == []
    assert pool._connections == [kept]


async def test_a_sweep_closes_expired_connections_and_polls_each_once() -> None:
    stale, fresh, busy = Connection("stale", expired=True), Connection("fresh"), Connection("busy", "active")
    pool = make_pool(stale, fresh, busy)
    assert pool._assign_requests_to_connections() == [stale]
    assert pool._connections == [fresh, busy]
    assert (stale.expiry_checks, fresh.expiry_checks) == (1, 1)
    # Within the sweep interval the next pass polls nothing it does not hand out.
    assert pool._assign_requests_to_connections() == []
    assert fresh.expiry_checks == 1


async def test_between_sweeps_only_the_connection_handed_out_is_polled_and_an_expired_one_is_skipped() -> None:
    stale, fresh = Connection("stale", expired=True), Connection("fresh")
    others = [Connection(f"o{i}", origin=B) for i in range(5)]
    pool = make_pool(stale, fresh, *others, swept=True)
    request = queue(pool)
    assert pool._assign_requests_to_connections() == [stale]
    assert request.connection is fresh
    assert (stale.expiry_checks, fresh.expiry_checks) == (1, 1)
    assert all(o.expiry_checks == 0 for o in others)


async def test_at_max_connections_a_request_waits_or_replaces_an_idle_connection_to_another_origin() -> None:
    busy = Connection("busy", "active")
    pool = make_pool(busy, max_connections=1)
    waiting = queue(pool)
    assert pool._assign_requests_to_connections() == []
    assert waiting.is_queued()

    other = Connection("other", origin=B)
    pool = make_pool(other, max_connections=1)
    request = queue(pool)
    assert pool._assign_requests_to_connections() == [other]
    assert request.connection is not None and request.connection is not other
    assert pool._connections == [request.connection]


def test_pooled_transport_keeps_the_limits_and_uses_the_linear_pool() -> None:
    # Guards the class swap: an httpx that builds its pool elsewhere must fail here, not silently go quadratic.
    transport = pooled_transport(limits=httpx.Limits(max_connections=7, max_keepalive_connections=3,
                                                     keepalive_expiry=2.5))
    assert type(transport._pool) is LinearConnectionPool
    assert (transport._pool._max_connections, transport._pool._max_keepalive_connections,
            transport._pool._keepalive_expiry) == (7, 3, 2.5)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=pooled_transport(limits=httpx.Limits(max_connections=100))) as c:
        yield c


async def test_concurrent_requests_through_a_real_server_reuse_their_connections(
        client: httpx.AsyncClient) -> None:
    with FakeOpenAIServer(latency_s=0.05) as server:
        pool = client._transport._pool  # type: ignore[attr-defined]
        waves = []
        for _ in range(3):
            replies = await asyncio.gather(*(client.get(f"{server.base_url}/models") for _ in range(20)))
            assert [r.status_code for r in replies] == [200] * 20
            waves.append(set(pool.connections))
        assert len(waves[0]) == 20
        assert waves[1] == waves[2] == waves[0]  # later waves opened no new connection


async def test_a_connection_the_server_closed_while_idle_is_replaced_not_used(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "SWEEP_INTERVAL_S", 3600.0)  # only the poll before handing out can catch it
    served = 0

    async def one_reply_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await reader.readuntil(b"\r\n\r\n")
        served += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # keep-alive implied, then closed
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(one_reply_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for _ in range(3):
            reply = await client.get(f"http://127.0.0.1:{port}/")
            assert reply.text == "ok"
            await asyncio.sleep(0.05)  # the FIN arrives while the connection sits idle
    finally:
        server.close()
        await server.wait_closed()
    assert served == 3


@pytest.mark.parametrize(("max_connections", "keepalive"), [(2, 2), (3, 0), (1, 1)],
                         ids=["queued", "no-keepalive", "one-connection"])
async def test_requests_beyond_the_connection_limit_wait_their_turn_and_all_complete(max_connections: int,
                                                                                    keepalive: int) -> None:
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=keepalive)
    with FakeOpenAIServer(latency_s=0.01) as server:
        async with httpx.AsyncClient(transport=pooled_transport(limits=limits)) as limited:
            pool = limited._transport._pool  # type: ignore[attr-defined]
            most = 0

            async def one() -> int:
                nonlocal most
                reply = await limited.get(f"{server.base_url}/models")
                most = max(most, len(pool.connections))
                return reply.status_code

            codes = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(30))), timeout=20)
    assert codes == [200] * 30
    assert most <= max_connections
    assert len([c for c in pool.connections if c.is_idle()]) <= keepalive


async def test_a_request_cancelled_while_it_waits_for_a_connection_frees_its_place() -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with FakeOpenAIServer(latency_s=0.2) as server:
        async with httpx.AsyncClient(transport=pooled_transport(limits=limits)) as limited:
            url = f"{server.base_url}/chat/completions"
            body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
            busy = asyncio.create_task(limited.post(url, json=body))
            await asyncio.sleep(0.05)  # `busy` holds the only connection
            waiting = asyncio.create_task(limited.post(url, json=body))
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert (await busy).status_code == 200
            assert (await asyncio.wait_for(limited.post(url, json=body), timeout=5)).status_code == 200
            assert limited._transport._pool._requests == []  # type: ignore[attr-defined]
