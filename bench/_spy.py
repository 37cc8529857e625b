"""Where `drafter serve`'s CPU goes per draft: py-spy samples every thread of the real server; not a benchmark.

    .venv/bin/python -m bench._spy [--drafts 1000]

Starts the fake OpenAI server (no latency) and `drafter serve` (uvicorn, SQLite) as bench.overhead does, sends
drafts one at a time, samples the server with py-spy (a dev dependency; all threads, so the SQLite transactions in
the worker thread count too), and prints each part's share of the busy samples beside the server's CPU time per
draft. Samples of a thread waiting (the thread pool's queue, the event loop's poll) are idle and left out; py-spy
cannot see inside C code, so a share is of the samples it attributes, not an exact split of the CPU figure.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.overhead import PIDS, cpu_seconds, fake_server, patient_messages, run_service, service

PY_SPY = Path(sys.executable).parent / "py-spy"
# First match over the whole stack wins; the order puts the most specific parts first.
STORE, GUARDRAILS, MODEL = ("storage: SQLite transactions (worker thread)", "guardrails, input and output",
                            "model call: openai SDK and httpx (the bare loop pays it too)")
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (STORE, ("DraftStore._in_twin",)),
    (GUARDRAILS, ("Pipeline.finish", "Pipeline.assess_input")),
    (MODEL, ("AsyncCompletions.create",)),
    ("prompt rendering and variables", ("Pipeline.render",)),
    ("storage: on the event loop (hops, results)", ("DraftStore.", "AccountStore.", "TemplateStore.", "to_thread")),
    ("pipeline: the rest", ("Pipeline.",)),
    ("FastAPI: dependencies, validation, serialisation", ("fastapi/",)),
    ("Starlette and drafter's middlewares", ("starlette/", "drafter/api/")),
    ("uvicorn and the event loop", ("uvicorn/", "asyncio/")),
    # Without pausing the server (--nonblocking), py-spy cuts some stacks short: those are placed by their files.
    # (Pausing it at every sample made drafts ten times slower.)
    (GUARDRAILS, ("guardrails/",)),
    (MODEL, ("openai/", "httpx/", "httpcore/")),
    (STORE, ("sqlalchemy/", "drafter/storage/")),
)
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py", "Runner.run (asyncio/runners.py")


def part_of(stack: str) -> str | None:
    """The part a sampled stack belongs to; None when the thread was waiting."""
    frames = stack.split(";")[1:]  # the first entry names the thread
    if frames and frames[-1].startswith(IDLE_LEAVES):
        return None
    return next((name for name, needles in PARTS if any(n in stack for n in needles)), "other")


def shares(raw: str) -> tuple[collections.Counter[str], int]:
    """Busy samples per part from py-spy's raw (collapsed stacks) output, and their total."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        part = part_of(stack)
        if part is not None and n.isdigit():
            counts[part] += int(n)
    return counts, sum(counts.values())


def main(argv: Sequence[str] | None = None) -> None:
    """Sample the server over the drafts and print the shares."""
    parser = argparse.ArgumentParser(prog="python -m bench._spy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    args = parser.parse_args(argv)
    py_spy = str(PY_SPY) if PY_SPY.exists() else shutil.which("py-spy")
    if py_spy is None:
        sys.exit("bench._spy needs py-spy (a dev dependency): run ./scripts/bootstrap")
    messages = patient_messages()
    with tempfile.TemporaryDirectory() as tmp, fake_server(0) as llm_url, service(llm_url, None, Path(tmp)) as base:
        pid = PIDS[base]
        asyncio.run(run_service(base, messages, 30, 1))  # warm-up: first-use imports and caches
        out = Path(tmp) / "spy.txt"
        spy = subprocess.Popen([py_spy, "record", "--pid", str(pid),
                                "--rate", str(args.rate), "--format", "raw", "--output", str(out), "--threads",
                                "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.5)  # py-spy attaches
        cpu0 = cpu_seconds(pid)
        block = asyncio.run(run_service(base, messages, args.drafts, 1))
        cpu, wall = cpu_seconds(pid) - cpu0, block.wall_s
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=60)
        if not out.exists():
            sys.exit(f"py-spy wrote nothing (it needs ptrace permission):\n{err.decode(errors='replace')[-1000:]}")
        counts, busy = shares(out.read_text())
    if block.errors:
        sys.exit(f"bench._spy: {block.errors} of {args.drafts} drafts failed")
    print(f"{args.drafts} drafts one at a time, fake model 0 ms: {wall / args.drafts * 1000:.2f} ms per draft, "
          f"server CPU {cpu / args.drafts * 1000:.2f} ms per draft; {busy} busy samples at {args.rate}/s")
    for name, n in counts.most_common():
        print(f"  {n / busy * 100:5.1f}%  {name}")


if __name__ == "__main__":
    main()
