"""Scale-out: a queue of accepted messages drained by 1 `drafter worker` process, then by 2, in one run.

    .venv/bin/python -m bench queue_drain
    .venv/bin/python -m bench queue_drain --args queue_drain="--messages 500 --latency-ms 1000 --concurrency 8"

Each round gets a fresh PostgreSQL database and Redis queue. The messages are accepted first (stored and
triaged as POST /v1/messages does, the drafts `queued`), with the workers already started and idle; the clock
starts when their jobs go to Redis (as the API sends them) and stops when the database has no draft waiting. The
model is the fake OpenAI-compatible server in its own process with a fixed latency; each worker writes up to
`--concurrency` drafts at once, so the model wait dominates and one worker's ideal drain is
ceil(messages / concurrency) × latency. The database sweep (the recovery path) is slowed down so that every job
arrives through Redis. Checks, per round: every message has exactly one draft, none failed, each draft was
stored once (audit), and the fake server served exactly one completion per message (none lost or drafted twice).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import Row, machine
from drafter.domain import DraftRequest
from drafter.queue import RedisDraftJobs, open_queue
from drafter.services import open_services
from drafter.settings import Settings
from drafter.testing.fake_openai import free_port

MESSAGE = "My knee still hurts when I climb stairs (note {i}). Can I keep doing my exercises this week?"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    workers: int
    drain_s: float
    ideal_s: float
    cpu_ms_per_draft: float
    peak_in_flight: int
    problems: list[str]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _admin(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _fetch(url: str, sql: str) -> list[tuple[object, ...]]:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def _delete_queue(settings: Settings) -> None:
    from redis import asyncio as aioredis

    redis = aioredis.from_url(settings.queue_url)
    try:
        for pattern in (f"saq:{settings.queue_name}:*", f"saq:job:{settings.queue_name}:*"):
            keys = [key async for key in redis.scan_iter(pattern)]
            if keys:
                await redis.delete(*keys)
    finally:
        await redis.aclose()


def _start_workers(count: int, settings: Settings, concurrency: int, tmp: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))} | {
        "DRAFTER_DATABASE_URL": settings.database_url, "DRAFTER_QUEUE_URL": settings.queue_url,
        "DRAFTER_QUEUE_NAME": settings.queue_name, "DRAFTER_LLM_BASE_URL": str(settings.llm_base_url),
        "DRAFTER_LLM_API_KEY": "bench", "DRAFTER_LLM_FALLBACK": "false", "DRAFTER_LOG_LEVEL": "WARNING",
        "DRAFTER_PREGENERATE_SWEEP_S": "3600"}
    procs = []
    for i in range(count):
        with (tmp / f"worker-{i}.err").open("wb") as err:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "drafter.cli", "worker", "--concurrency", str(concurrency)],
                env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=err))
    deadline = time.monotonic() + 120
    for i, proc in enumerate(procs):
        log = tmp / f"worker-{i}.err"
        while "drafter worker: ready" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"drafter worker did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
    return procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _accept(settings: Settings, messages: int) -> list[str]:
    async with open_services(settings) as services:  # migrates the fresh database before any worker starts
        return [(await services.pipeline.accept(
            DraftRequest.model_validate({"message": {"text": MESSAGE.format(i=i)}}), source="api"))[1]
            for i in range(messages)]


async def _migrate(settings: Settings) -> None:
    async with open_services(settings):
        pass


async def _drain(settings: Settings, ids: list[str]) -> float:
    """Send every draft's job to Redis as the API does, and wait until no draft waits; seconds taken."""
    waiting_sql = "SELECT count(*) FROM drafts WHERE status IN ('queued', 'generating')"
    async with RedisDraftJobs(open_queue(settings)).running() as jobs:
        started = time.perf_counter()
        sent = await asyncio.gather(*(jobs.put(draft_id) for draft_id in ids))
        if not all(sent):
            raise RuntimeError(f"{sent.count(False)} jobs were not enqueued")
        while (await _fetch(settings.database_url, waiting_sql))[0][0]:  # noqa: ASYNC110 - the workers are other processes: poll
            await asyncio.sleep(0.05)
        return time.perf_counter() - started


async def _problems(settings: Settings, messages: int, stats: dict[str, int]) -> list[str]:
    url = settings.database_url
    found = []
    [(message_count,)] = await _fetch(url, "SELECT count(*) FROM messages")
    not_one = await _fetch(url, "SELECT m.id FROM messages m LEFT JOIN drafts d ON d.message_id = m.id "
                                "GROUP BY m.id HAVING count(d.id) <> 1")
    statuses = dict(await _fetch(url, "SELECT status, count(*) FROM drafts GROUP BY status"))
    [(stored,)] = await _fetch(url, "SELECT count(*) FROM audit_events WHERE action = 'draft.created'")
    if message_count != messages:
        found.append(f"{message_count} messages stored, not {messages}")
    if not_one:
        found.append(f"{len(not_one)} messages without exactly one draft")
    if set(statuses) - {"pending_review", "needs_clinician"}:
        found.append(f"draft statuses {statuses}")
    if stored != messages:
        found.append(f"{stored} drafts stored (audit), not {messages}")
    if (stats["requests"], stats["completions"]) != (messages, messages):
        found.append(f"the fake model got {stats['requests']} requests and served {stats['completions']} "
                     f"completions, not {messages}")
    return found


def run_round(workers: int, *, base: Settings, admin_url: str, fake_url: str, messages: int, concurrency: int,
              latency_s: float) -> Round:
    """One round on a fresh database and queue: accept, drain with `workers` processes, check, clean up."""
    name = f"drafter_bench_{uuid.uuid4().hex[:10]}"
    db_url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    settings = Settings(**{**base.model_dump(exclude_unset=True), "database_url": db_url,
                           "queue_name": name.replace("_", "-")}, _env_file=None)  # type: ignore[arg-type]
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_migrate(settings))
            procs = _start_workers(workers, settings, concurrency, Path(tmp))
            ids = asyncio.run(_accept(settings, messages))
            httpx.post(f"{fake_url}/stats/reset", timeout=10).raise_for_status()
            cpu_before = sum(_cpu_s(p.pid) for p in procs)
            drain_s = asyncio.run(_drain(settings, ids))
            cpu_s = sum(_cpu_s(p.pid) for p in procs) - cpu_before
            stats = httpx.get(f"{fake_url}/stats", timeout=10).json()
            problems = asyncio.run(_problems(settings, messages, stats))
            _stop(procs)
            procs = []
    finally:
        _stop(procs)
        asyncio.run(_delete_queue(settings))
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    ideal = math.ceil(messages / (workers * concurrency)) * latency_s
    return Round(workers, drain_s, ideal, cpu_s * 1000 / messages, stats["peak_in_flight"], problems)


def _fake_server(port: int, latency_ms: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "drafter.testing.fake_openai", "--port", str(port),
                             "--latency-ms", str(latency_ms)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1).raise_for_status()
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the fake OpenAI server did not start") from None
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> list[Row]:
    """Drain the same queue with 1 worker process and with 2; print and return the figures."""
    parser = argparse.ArgumentParser(prog="bench.queue_drain", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=1000, help="the fake model's fixed latency")
    parser.add_argument("--concurrency", type=int, default=8, help="drafts one worker process writes at once")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--pg-admin", default=os.environ.get("DRAFTER_TEST_PG_ADMIN",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    port = free_port()
    fake_url = f"http://127.0.0.1:{port}"
    print(f"machine: {machine()}")
    print(f"{args.messages} messages; fake model latency {args.latency_ms} ms in its own process; "
          f"each `drafter worker` writes up to {args.concurrency} drafts at once; PostgreSQL, Redis on loopback")
    base = Settings(llm_base_url=f"{fake_url}/v1", llm_api_key="bench", queue_url=args.redis_url,  # type: ignore[arg-type]
                    llm_fallback=False, _env_file=None)
    fake = _fake_server(port, args.latency_ms)
    try:
        rounds = [run_round(n, base=base, admin_url=args.pg_admin, fake_url=fake_url, messages=args.messages,
                            concurrency=args.concurrency, latency_s=args.latency_ms / 1000) for n in (1, 2)]
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    for r in rounds:
        print(f"  {r.workers} worker(s): drained in {r.drain_s:6.1f} s (ideal {r.ideal_s:.1f} s), model calls in "
              f"flight at most {r.peak_in_flight}, worker CPU {r.cpu_ms_per_draft:.1f} ms per draft; "
              f"{'; '.join(r.problems) or 'every message drafted exactly once'}")
    one, two = rounds
    ratio = one.drain_s / two.drain_s
    print(f"  2 workers drain {ratio:.2f}x as fast as 1 (ideal {one.ideal_s / two.ideal_s:.2f}x)")
    print(f"machine after: {machine()}")
    exact = not one.problems and not two.problems
    rows = [Row("queue_drain", f"{args.messages} messages drained by {r.workers} worker(s) ({args.concurrency} "
                f"at once each, model {args.latency_ms} ms)", f"{r.drain_s:.1f} s (ideal {r.ideal_s:.1f} s)")
            for r in rounds]
    rows.append(Row("queue_drain", "speed-up, 2 workers / 1", f"{ratio:.2f}x", "about 2x (>= 1.8x)", ratio >= 1.8))
    rows.append(Row("queue_drain", "messages with exactly one draft; completions served by the fake model",
                    "all, in both rounds" if exact else "; ".join(one.problems + two.problems)[:200],
                    f"{args.messages} and {args.messages}", exact))
    rows.append(Row("queue_drain", "worker CPU per draft (1 worker / 2 workers)",
                    f"{one.cpu_ms_per_draft:.1f} / {two.cpu_ms_per_draft:.1f} ms"))
    return rows


if __name__ == "__main__":
    main()
