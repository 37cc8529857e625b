"""httpcore's connection pool with an assignment pass that costs O(connections + requests) and hands a free
connection to one request.

httpcore 1.0.9 (the latest release) runs `_assign_requests_to_connections` whenever a request joins or leaves the
pool. That pass is quadratic in the connections (it counts the whole pool once per idle connection), polls the
socket of every idle connection, and hands one idle connection to every queued request, so all but one wake, fail
with ConnectionNotAvailable and run the pass again. With tens of connections idle between calls, as when drafting
does work between model calls, the eval bench spent 5 of its 9 CPU seconds there under pyinstrument and woke 2.5
times per request for a connection another took; without a profiler, bench/pool.py measures 4.2 against 2.0 ms of
client CPU per request for httpcore's pool and this one. Upstream knows (encode/httpcore#1035, open; fixed in the
httpx2 fork, pydantic/httpx2#974 and #1075); until an httpcore release fixes it, drafter's OpenAI client uses this
pool (drop it then, and `./scripts/bench pool` shows whether the release did).

The decisions are upstream's, in the same order: drop closed connections, close expired ones and idle ones above
`max_keepalive_connections`, then give each queued request an available connection, a new one under
`max_connections`, or a new one in place of an idle connection. What differs: a connection already handed to a
request that has not started on it is neither handed out again nor closed (HTTP/1.1; an HTTP/2 pool shares as
upstream does); the keep-alive limit counts idle connections (upstream compares the whole pool with it); idle
sockets are polled for a server's disconnect in a sweep at most once a second and, always, right before a
connection is handed out, instead of on every pass.
"""

from __future__ import annotations

import time

import httpcore
import httpx
from httpcore._async.interfaces import AsyncConnectionInterface

SWEEP_INTERVAL_S = 1.0


class LinearConnectionPool(httpcore.AsyncConnectionPool):
    """An AsyncConnectionPool whose assignment pass is linear (see the module docstring)."""

    _swept_at = float("-inf")

    def _assign_requests_to_connections(self) -> list[AsyncConnectionInterface]:
        closing: list[AsyncConnectionInterface] = []
        now = time.monotonic()
        sweep = now - self._swept_at >= SWEEP_INTERVAL_S
        if sweep:
            self._swept_at = now
        # A request keeps its connection until it leaves the pool; one still queued has none.
        reserved = {request.connection for request in self._requests if request.connection is not None}
        kept: list[AsyncConnectionInterface] = []
        for connection in self._connections:
            if connection.is_closed():
                continue
            if sweep and connection not in reserved and connection.has_expired():
                closing.append(connection)
                continue
            kept.append(connection)
        idle = [connection for connection in kept if connection.is_idle() and connection not in reserved]
        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:  # the longest-kept idle connections go first, as upstream
            evicted, idle = idle[:surplus], idle[surplus:]
            closing.extend(evicted)
            gone = set(evicted)
            kept = [connection for connection in kept if connection not in gone]
        self._connections = kept

        queued = [request for request in self._requests if request.is_queued()]
        if not queued:
            return closing
        shared = self._http2  # an HTTP/2 connection takes several requests at once
        available = [connection for connection in kept
                     if connection.is_available() and (shared or connection not in reserved)]
        for request in queued:
            origin = request.request.url.origin
            chosen = self._take(available, idle, origin, closing, checked=sweep, shared=shared)
            if chosen is None:
                if len(self._connections) >= self._max_connections:
                    if not idle:
                        continue  # queued until a connection is released (a later one may have a free connection)
                    replaced = idle.pop(0)
                    self._connections.remove(replaced)
                    if replaced in available:
                        available.remove(replaced)
                    closing.append(replaced)
                chosen = self.create_connection(origin)
                self._connections.append(chosen)
            request.assign_to_connection(chosen)
        return closing

    def _take(self, available: list[AsyncConnectionInterface], idle: list[AsyncConnectionInterface],
              origin: httpcore.Origin, closing: list[AsyncConnectionInterface], *, checked: bool,
              shared: bool) -> AsyncConnectionInterface | None:
        """The first available connection to `origin` that has not expired (closing expired ones it meets),
        taken out of `available` and `idle` unless connections are shared."""
        for connection in list(available):
            if not connection.can_handle_request(origin):
                continue
            expired = not checked and connection.has_expired()
            if expired or not shared:
                available.remove(connection)
                if connection in idle:
                    idle.remove(connection)
            if not expired:
                return connection
            self._connections.remove(connection)
            closing.append(connection)
        return None


def pooled_transport(*, limits: httpx.Limits, proxy: str | None = None) -> httpx.AsyncHTTPTransport:
    """httpx's async transport with `limits` (through `proxy` when given), its pool made a LinearConnectionPool."""
    transport = httpx.AsyncHTTPTransport(limits=limits, proxy=proxy)
    # httpx builds the pool in __init__ from many settings (TLS, retries, socket options); changing the class of
    # that one object keeps every setting and changes only the assignment pass. A proxy's pool (another class)
    # is left as httpx built it.
    if type(transport._pool) is httpcore.AsyncConnectionPool:
        transport._pool.__class__ = LinearConnectionPool
    return transport
