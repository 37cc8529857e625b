"""One mapping from errors to HTTP answers: the ErrorBody shape, never a stack trace."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from drafter.errors import DrafterError, LLMError, StorageError

log = logging.getLogger("drafter.api")

DEFAULT_RETRY_AFTER_S = 30


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error body every failure uses."""
    return JSONResponse(status_code=status, headers=headers,
                        content={"error": {"code": code, "message": message, "details": details or {}}})


def _retry_after(exc: DrafterError) -> dict[str, str] | None:
    if exc.http_status not in (502, 503, 504) and not isinstance(exc, LLMError | StorageError):
        return None
    wait = exc.retry_after if isinstance(exc, LLMError) and exc.retry_after else DEFAULT_RETRY_AFTER_S
    return {"Retry-After": str(max(1, math.ceil(wait)))}


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        out.append({"field": ".".join(loc) or "body", "problem": err.get("msg", "invalid"), "type": err.get("type")})
    return out


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path (for the Allow header of a 405)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path) and route.methods:
            methods |= set(route.methods)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into an ErrorBody."""

    @app.exception_handler(DrafterError)
    async def drafter_error(_: Request, exc: DrafterError) -> JSONResponse:
        log.info("request failed", extra={"error_code": exc.code, "status": exc.http_status})
        headers = {**(_retry_after(exc) or {}), **getattr(exc, "headers", {})}
        return error_response(exc.http_status, exc.code, exc.message, exc.details, headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _field_errors(exc)
        if any(p["type"] in ("json_invalid", "json_type") for p in problems):
            return error_response(422, "invalid_json", "The body is not valid JSON (UTF-8). Check quoting, commas "
                                  "and encoding.", {"problems": problems})
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return error_response(422, "invalid_input", f"The request is not valid: {summary}.", {"problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's answer to a body it could not decode (e.g. non-UTF-8 bytes)
            return error_response(422, "invalid_body", "The body could not be read: send UTF-8 encoded JSON.")
        codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette names only the first route's methods when routes share a path
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                              headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Only the type: the message could carry patient text.
        log.error("unhandled error", extra={"error_type": type(exc).__name__})
        return error_response(500, "internal_error", "Something went wrong on our side; nothing you sent was lost "
                              "if a draft id was returned. Try again or contact support.")
