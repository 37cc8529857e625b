"""The child process that renders a not-yet-trusted template version under hard limits.

The sandbox's own hooks stop long loops and large outputs; this process adds what a hook cannot promise: an
address-space cap (a memory blow-up ends in MemoryError here, not in the server) and a CPU-time cap, and the
parent kills it at a wall-clock deadline. Input: one JSON object on stdin. Output: one JSON line per render.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def _limit(memory_mb: int, cpu_s: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Render every context of the payload and print one JSON line each."""
    payload = json.loads(sys.stdin.read())
    from dataclasses import asdict

    from drafter.errors import TemplateError
    from drafter.prompting import PromptRenderer, TemplateSet

    _limit(int(payload["memory_mb"]), int(payload["cpu_s"]))
    try:
        renderer = PromptRenderer(TemplateSet.from_files(payload["files"], origin=payload["label"]))
    except TemplateError as exc:
        _emit({"setup_error": exc.message, "details": exc.details})
        return
    for ctx in payload["contexts"]:
        started = time.perf_counter()
        try:
            request = renderer.render(ctx["variables"], mode=ctx["mode"], max_tokens=350, temperature=0.3)
            record: dict[str, Any] = {"ok": True, "request": asdict(request)}
        except TemplateError as exc:
            record = {"ok": False, "message": exc.message, "details": exc.details}
        except MemoryError:
            record = {"ok": False, "message": "rendering ran out of memory (the render process's cap)", "details": {}}
        record |= {"id": ctx["id"], "mode": ctx["mode"], "ms": round((time.perf_counter() - started) * 1000, 3)}
        _emit(record)


if __name__ == "__main__":
    main()
