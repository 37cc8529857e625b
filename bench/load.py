"""Loopback load test: N concurrent clients post drafts for D seconds; errors, lost messages, p50/p99 latency.

    .venv/bin/python -m bench.load                               # quick: 50 clients, 15 s, SQLite then PostgreSQL
    .venv/bin/python -m bench.load --clients 200 --duration 60   # the issue's run
    .venv/bin/python -m bench.load --db sqlite --latency-ms 100

The service runs as `drafter serve` (uvicorn) in its own process, the fake OpenAI server (100 ms latency) in
another, and the clients here, each with its own clinician token. A message counts as lost when a request was
acknowledged (201 with a draft id) and its draft or message is not in the database afterwards; every request
that is not a 201 counts as an error. PostgreSQL runs on a fresh database on 127.0.0.1:5432, dropped at the end.

Messages are the consumer health questions of MeQSum (Ben Abacha & Demner-Fushman, ACL 2019; CC BY 4.0),
read from /work/shared/data/meqsum.csv (columns File, CHQ, Summary).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import func, select

from drafter.identity import Role
from drafter.storage.accounts import AccountStore
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.models import Draft, Message
from drafter.storage.repository import DraftStore
from drafter.testing.fake_openai import free_port

MEQSUM = Path(os.environ.get("DRAFTER_MEQSUM", "/work/shared/data/meqsum.csv"))
PG_ADMIN = os.environ.get("DRAFTER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def messages(limit_chars: int = 4_000) -> list[str]:
    """Patient questions from MeQSum, the 'SUBJECT:'/'MESSAGE:' labels removed."""
    with MEQSUM.open(newline="", encoding="utf-8") as fh:
        rows = [row["CHQ"] for row in csv.DictReader(fh)]
    out = []
    for text in rows:
        cleaned = text.replace("SUBJECT:", "").replace("MESSAGE:", "").strip()
        if cleaned:
            out.append(cleaned[:limit_chars])
    return out


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    errors: Counter[str] = field(default_factory=Counter)
    error_after_s: list[float] = field(default_factory=list)  # how long failed requests took (transport errors)
    sent: int = 0


async def client_loop(http: httpx.AsyncClient, token: str, texts: list[str], offset: int, stop_at: float,
                      tally: Tally) -> None:
    """One clinician posting drafts back to back until the deadline."""
    i = offset
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < stop_at:
        body = {"message": {"text": texts[i % len(texts)]}}
        i += 1
        tally.sent += 1
        started = time.perf_counter()
        try:
            r = await http.post("/v1/drafts", json=body, headers=headers)
        except httpx.HTTPError as exc:
            tally.errors[type(exc).__name__] += 1
            tally.error_after_s.append(round(time.perf_counter() - started, 1))
            continue
        if r.status_code == 201:
            tally.latencies.append(time.perf_counter() - started)
            tally.acknowledged.add(r.json()["id"])
        else:
            try:
                code = r.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "?"
            tally.errors[f"{r.status_code} {code}"] += 1


async def prepare(database_url: str, clients: int) -> list[str]:
    """Migrate the database and create one clinician (and token) per client."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        accounts = AccountStore(DraftStore(engine))
        return [(await accounts.create_user(f"load-{i}", Role.CLINICIAN, actor="bench"))[1] for i in range(clients)]
    finally:
        await engine.dispose()


async def stored(database_url: str, ids: set[str]) -> tuple[int, int, int, int, dict[str, float]]:
    """Messages, drafts, acknowledged drafts found, drafts still 'generating', and median step timings (ms)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            n_messages = (await conn.execute(select(func.count()).select_from(Message))).scalar_one()
            n_drafts = (await conn.execute(select(func.count()).select_from(Draft))).scalar_one()
            found = {row[0] for row in await conn.execute(select(Draft.id).where(Draft.message_id.is_not(None)))}
            generating = (await conn.execute(select(func.count()).select_from(Draft)
                                             .where(Draft.status == "generating"))).scalar_one()
            timings = [row[0] for row in await conn.execute(select(Draft.timings)) if row[0]]
    finally:
        await engine.dispose()
    steps = {k: round(statistics.median(t.get(k, 0.0) for t in timings)) for k in
             ("store_accept_ms", "llm_ms", "output_checks_ms", "total_ms")} if timings else {}
    return n_messages, n_drafts, len(ids & found), generating, steps


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"{url}: the process exited with {proc.returncode}")
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout_s:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def run_one(db: str, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    """One load run against one database; returns the figures."""
    pg_name = None
    if db == "sqlite":
        database_url = f"sqlite:///{workdir}/load.db"
    else:
        pg_name = f"drafter_load_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
        await conn.execute(f'CREATE DATABASE "{pg_name}"')
        await conn.close()
        database_url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{pg_name}"
    fake_port, port = free_port(), free_port()
    # DRAFTER_* settings of the caller reach the service (e.g. DRAFTER_DATABASE_POOL_SIZE), except these.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")} | {
        "DRAFTER_DATABASE_URL": database_url, "DRAFTER_LLM_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "DRAFTER_LLM_API_KEY": "bench", "DRAFTER_LOG_LEVEL": "WARNING",
    }
    fake = start([sys.executable, "-m", "drafter.testing.fake_openai", "--port", str(fake_port),
                  "--latency-ms", str(args.latency_ms)], env, workdir / f"fake-{db}.log")
    service = None
    try:
        tokens = await prepare(database_url, args.clients)
        service = start([sys.executable, "-m", "drafter.cli", "serve", "--port", str(port)], env,
                        workdir / f"service-{db}.log")
        await wait_ready(f"http://127.0.0.1:{fake_port}/v1/models", fake)
        await wait_ready(f"http://127.0.0.1:{port}/healthz", service)
        texts = messages()
        limits = httpx.Limits(max_connections=args.clients + 10, max_keepalive_connections=args.clients + 10)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                     timeout=args.request_timeout) as http:
            warm = await http.post("/v1/drafts", json={"message": {"text": texts[0]}},
                                   headers={"Authorization": f"Bearer {tokens[0]}"})
            warm_ok = {warm.json()["id"]} if warm.status_code == 201 else set()
            tally = Tally()
            started = time.monotonic()
            stop_at = started + args.duration
            await asyncio.gather(*(client_loop(http, tokens[i], texts, i * 7, stop_at, tally)
                                   for i in range(args.clients)))
            elapsed = time.monotonic() - started
        n_messages, n_drafts, found, generating, steps = await stored(database_url, tally.acknowledged)
    finally:
        if service is not None:
            stop(service)
        stop(fake)
        if pg_name:
            conn = await asyncpg.connect(PG_ADMIN, timeout=5)
            await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await conn.close()
    lat = sorted(tally.latencies)
    ok = len(tally.acknowledged)
    return {
        "db": db, "clients": args.clients, "seconds": round(elapsed, 1), "sent": tally.sent, "acknowledged": ok,
        "errors": sum(tally.errors.values()), "error_kinds": dict(tally.errors),
        "transport_errors_after_s": tally.error_after_s[:10],
        "lost": ok - found, "messages_rows": n_messages, "drafts_rows": n_drafts,
        "rows_expected": ok + len(warm_ok), "generating_left": generating,
        "rps": round(ok / elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000) if lat else None,
        "max_ms": round(lat[-1] * 1000) if lat else None,
        **{f"median_{k}": v for k, v in steps.items()},  # inside the service, per draft
    }


def main() -> None:
    """Run the load test on the chosen databases and print one line of figures per database."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load (requests in flight finish)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the fake model's latency")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"# {args.clients} clients x {args.duration:g} s, fake model latency {args.latency_ms:g} ms, "
          f"{os.cpu_count()} cores (clients, service and fake model share them)")
    failed = False
    with tempfile.TemporaryDirectory(prefix="drafter-load-") as tmp:
        for db in dbs:
            figures = asyncio.run(run_one(db, args, Path(tmp)))
            print(" ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
            failed |= bool(figures["errors"] or figures["lost"] or figures["generating_left"]
                           or figures["messages_rows"] != figures["rows_expected"])
            if failed:
                for log in sorted(Path(tmp).glob(f"*-{db}.log")):
                    tail = log.read_text(errors="replace").splitlines()[-15:]
                    print(f"--- last lines of {log.name}:\n" + "\n".join(tail))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
