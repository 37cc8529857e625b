"""Render template versions that are not trusted yet in a separate process with memory, CPU and time limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drafter.templates.samples import RenderContext

MEMORY_MB = 1024
CPU_S = 20


@dataclass(frozen=True, slots=True)
class IsolatedRender:
    """One render's outcome: the request (as a dict) or the error message, with where it failed."""

    id: str
    mode: str
    ok: bool
    ms: float = 0.0
    request: dict[str, Any] | None = None
    message: str = ""
    details: Mapping[str, Any] | None = None


async def render_isolated(files: Mapping[str, str], contexts: Sequence[RenderContext], *, label: str,
                          timeout_s: float = 20.0, memory_mb: int = MEMORY_MB) -> list[IsolatedRender]:
    """Render each context with the set in `files` in a child process; a hang or crash ends the child, not us.

    Contexts after the one that was running when the child died or was killed are reported as not rendered.
    """
    payload = json.dumps({"files": dict(files), "label": label, "memory_mb": memory_mb, "cpu_s": CPU_S,
                          "contexts": [{"id": c.id, "mode": c.mode, "variables": c.variables} for c in contexts]},
                         default=str)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "drafter.templates.render_worker", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, limit=16 * 1024 * 1024)
    assert process.stdin is not None
    assert process.stdout is not None
    results: list[IsolatedRender] = []
    stopped = ""

    async def read() -> None:
        nonlocal stopped
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(payload.encode())
        await process.stdin.drain()
        process.stdin.close()
        while line := await process.stdout.readline():
            record = json.loads(line)
            if "setup_error" in record:
                stopped = record["setup_error"]
                return
            results.append(IsolatedRender(record["id"], record["mode"], record["ok"], record.get("ms", 0.0),
                                          record.get("request"), record.get("message", ""), record.get("details")))

    try:
        await asyncio.wait_for(read(), timeout=timeout_s)
        code = await asyncio.wait_for(process.wait(), timeout=5)
        if code != 0 and not stopped:
            stopped = f"the render process stopped (exit {code}: out of memory or CPU time)"
    except TimeoutError:
        stopped = f"rendering did not finish within {timeout_s:.0f} s and was stopped"
    except (BrokenPipeError, ConnectionResetError, json.JSONDecodeError):
        stopped = "the render process stopped unexpectedly (out of memory?)"
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    for i, ctx in enumerate(contexts[len(results):]):
        results.append(IsolatedRender(ctx.id, ctx.mode, False, message=stopped if i == 0 else "not rendered: "
                                      f"an earlier sample stopped the render process ({stopped})"))
    return results
