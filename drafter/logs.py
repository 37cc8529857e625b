"""Structured JSON logs that cannot carry patient text.

The rule that keeps PHI out: a log line holds the message *template* (never its interpolated arguments), a request
id, and only allow-listed extra fields with short scalar values. Exceptions are logged as their type and stack
frames (file, line, function), never their message, which may quote the input. This holds for every logger,
ours and the libraries' (uvicorn, sqlalchemy, httpx, openai), because it is enforced by the one formatter.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

request_id: ContextVar[str | None] = ContextVar("drafter_request_id", default=None)

# Extra fields a log call may attach (e.g. log.info("draft stored", extra={"draft_id": ...})). None of them may ever
# hold patient text or identifiers: ids are random UUIDs, codes come from our own error tree.
SAFE_FIELDS = frozenset({
    "method", "path", "status", "duration_ms", "error_code", "error_type", "draft_id", "message_id", "user_id",
    "role", "token_id", "attempt", "attempts", "backend", "model", "event", "action", "retry_after_s", "reason",
    "exit_code", "signal", "backoff_s",  # the local model child's fate (drafter.llm.local)
})
_MAX_TEMPLATE = 500
_MAX_VALUE = 200
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def clean_request_id(value: str | None) -> str:
    """A caller's X-Request-ID when it is a short token of safe characters, else a fresh one."""
    return value if value and _REQUEST_ID.match(value) else uuid.uuid4().hex


def _frames(exc: BaseException) -> list[str]:
    return [f"{frame.filename.rsplit('/site-packages/', 1)[-1]}:{frame.lineno} {frame.name}"
            for frame in traceback.extract_tb(exc.__traceback__)][-20:]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, msg (the template), request_id and safe extras."""

    def format(self, record: logging.LogRecord) -> str:
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": template[:_MAX_TEMPLATE],
        }
        rid = request_id.get()
        if rid:
            out["request_id"] = rid
        for key in SAFE_FIELDS & record.__dict__.keys():
            value = record.__dict__[key]
            if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= _MAX_VALUE):
                out[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["exc_type"] = type(exc).__name__
            out["exc_frames"] = _frames(exc)
            if exc.__cause__ is not None or exc.__context__ is not None:
                out["exc_cause"] = type(exc.__cause__ or exc.__context__).__name__
        return json.dumps(out, ensure_ascii=False, default=str)


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) with the JSON formatter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(level: str, stream: IO[str] | None = None) -> None:
    """Route every logger (ours and the libraries') through one JSON handler on the root logger."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(json_handler(stream))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lib = logging.getLogger(name)
        lib.handlers.clear()  # uvicorn's own formatters interpolate arguments; ours must be the only one
        lib.propagate = True
