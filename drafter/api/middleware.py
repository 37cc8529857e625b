"""Request ids, one log line per request, and the security headers every response carries (pure ASGI)."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drafter.logs import clean_request_id, request_id

log = logging.getLogger("drafter.api.requests")

# Swagger UI and ReDoc (public pages without patient data) load their scripts from this CDN and start inline.
_DOCS_PATHS = ("/docs", "/redoc")
_DOCS_SOURCES = "'self' https://cdn.jsdelivr.net 'unsafe-inline'"


class RequestContext:
    """Takes X-Request-ID from the caller (or makes one), echoes it, and logs method, path, status and time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), None)
        rid = clean_request_id(given)
        request_id.set(rid)  # each request runs in its own task, so the value stays with this request
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            log.info("request", extra={"method": scope["method"], "path": getattr(route, "path", None) or scope["path"],
                                       "status": status,
                                       "duration_ms": round((time.perf_counter() - started) * 1000, 2)})


class SecurityHeaders:
    """CSP (frame-ancestors from the configured portal origins), nosniff, no referrer, no caching of PHI."""

    def __init__(self, app: ASGIApp, *, frame_ancestors: list[str]) -> None:
        self.app = app
        ancestors = " ".join(["'self'", *frame_ancestors]) if frame_ancestors else "'none'"
        common = f"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
        self.csp = (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    f"connect-src 'self'; {common}")
        self.docs_csp = (f"default-src 'self'; script-src {_DOCS_SOURCES}; style-src {_DOCS_SOURCES}; "
                         f"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; {common}")
        self.headers = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        }
        if not frame_ancestors:
            self.headers["X-Frame-Options"] = "DENY"  # for browsers without CSP level 2

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in _DOCS_PATHS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = self.docs_csp if docs else self.csp
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "no-store")  # drafts and messages are PHI: never cached
            await send(message)

        await self.app(scope, receive, send_with_headers)
