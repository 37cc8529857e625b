"""Request latency by route template (pure ASGI middleware) and the Prometheus endpoint, GET /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drafter.errors import PermissionDeniedError
from drafter.metrics import Metrics

router = APIRouter(tags=["metrics"])

UNMATCHED = "<unmatched>"  # requests no route took (404s): one label value, never the raw path
_PROXY_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")
_DEPTH_WAIT_S = 2.0  # a scrape waits no longer than this for the database or Redis to count the waiting drafts


class RequestMetrics:
    """Observe every HTTP request's duration by method, route template (never the raw path) and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is a server error

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route into the scope; its path is the template ("/v1/drafts/{draft_id}").
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.http_latency.labels(method=scope["method"], route=route, status=str(status)).observe(
                time.perf_counter() - started)


def from_loopback(request: Request) -> bool:
    """True when the peer is a loopback address and no proxy relayed the request (a reverse proxy on the same
    host would otherwise make every outside caller look local)."""
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
    return loopback and not any(name in _PROXY_HEADERS for name, _ in request.scope.get("headers", []))


async def _read_queue_depth(request: Request) -> None:
    """Set the queue-depth gauge from the database and the job queue; one that does not answer keeps its last value
    (the scrape itself must not fail because the database or Redis is away for a moment)."""
    gauge = request.app.state.metrics.queue_depth
    services, jobs = getattr(request.app.state, "services", None), getattr(request.app.state, "jobs", None)
    if services is not None:
        with contextlib.suppress(Exception):
            gauge.labels(queue="database").set(await asyncio.wait_for(services.store.count_queued(), _DEPTH_WAIT_S))
    if jobs is not None:
        with contextlib.suppress(Exception):
            gauge.labels(queue=jobs.label).set(await asyncio.wait_for(jobs.depth(), _DEPTH_WAIT_S))


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format: counts, durations and codes only, no patient information. Loopback only
    (drafter.api.policy.LOOPBACK_ONLY)."""
    if not from_loopback(request):
        raise PermissionDeniedError("GET /metrics answers only on loopback, without a proxy in between: scrape it "
                                    "from the same host or pod (e.g. a Prometheus agent or sidecar).")
    await _read_queue_depth(request)
    body, content_type = request.app.state.metrics.exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
