"""Service overhead: drafts through drafter over HTTP versus a bare AsyncOpenAI loop, against one fake model server.

    .venv/bin/python -m bench.overhead [--drafts 200] [--repeats 3] [--database-url postgresql://...]

For each concurrency level (1 and 64 by default) the bench starts, each in its own process:

* the fake OpenAI-compatible server (drafter.testing.fake_openai) with a fixed latency and a 150-word reply;
* `drafter serve` (uvicorn, one worker, the openai backend pointed at that fake server, a fresh SQLite file
  unless --database-url is given).

Then, in this process, it alternates blocks of the same number of requests from the same number of concurrent
workers (closed loop):

* bare    - `AsyncOpenAI.chat.completions.create` with the exact chat prompt drafter renders for the message;
* service - `POST /v1/drafts` with the message, as a clinician with an API token (token check, input checks,
            SQLite store, render, the same call, output checks, store, JSON response).

Patient messages are consumer health questions from MeQSum (Ben Abacha & Demner-Fushman, ACL 2019, CC BY 4.0),
read from ../shared/data/meqsum.csv.

Figures per repeat: added latency = service p50 (p99) minus bare p50 (p99); throughput ratio = service
drafts/s / bare completions/s. The median over repeats is reported with its range, since the machine is shared
with other work. Targets (issue 10): added p50 <= 2 ms, added p99 <= 10 ms, throughput >= 0.9x bare.
The fake server's latency is the stand-in for the model: the default at concurrency 64 (1 s) keeps the ideal
rate at 64 requests/s, so the comparison is about what drafter adds while it waits on a model, not about how
many HTTP requests two shared cores can push through three processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.report import Row, machine, percentile, spread

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MEQSUM = PROJECT_ROOT.parent / "shared" / "data" / "meqsum.csv"
DRAFTER = Path(sys.executable).parent / "drafter"
REPLY_WORDS = 150
PIDS: dict[str, int] = {}  # base URL -> process id of the fake server or the service started for it
TOKENS: dict[str, str] = {}  # service base URL -> a clinician's API token

TARGET_P50_MS, TARGET_P99_MS, TARGET_RATIO = 2.0, 10.0, 0.9


def patient_messages(limit: int = 400) -> list[str]:
    """MeQSum consumer health questions (the CHQ column), in file order."""
    if not MEQSUM.exists():
        sys.exit(f"bench.overhead: {MEQSUM} is missing (MeQSum, CC BY 4.0); put the shared data beside the repo.")
    with MEQSUM.open(newline="", encoding="utf-8") as fh:
        rows = [row["CHQ"].strip() for row in csv.DictReader(fh) if row.get("CHQ", "").strip()]
    return rows[:limit]


class _ChatModeLLM:
    """Stands in for the backend while rendering: Pipeline.render only asks which prompt mode to use."""

    prompt_mode = "chat"
    name = "fake-model"


def chat_prompts(messages: Sequence[str]) -> list[list[dict[str, str]]]:
    """The chat messages drafter's own pipeline renders for each patient message (what the service sends)."""
    from drafter.domain import DraftRequest
    from drafter.pipeline import Pipeline
    from drafter.prompting import PromptRenderer, TemplateSet
    from drafter.services import pipeline_config
    from drafter.settings import Settings
    from guardrails import load_policy

    settings = Settings.model_construct()
    renderer = PromptRenderer(TemplateSet.from_dir(settings.prompts_dir / settings.template_set))
    pipeline = Pipeline(llm=_ChatModeLLM(), store=None, renderer=renderer,  # type: ignore[arg-type]
                        policy=load_policy(), config=pipeline_config(settings, demo_model=False))
    prompts = []
    for text in messages:
        request = DraftRequest.model_validate({"message": {"text": text}})
        findings, level = pipeline.assess_input(request)
        rendered = pipeline.render(request, findings, level, pipeline.redactor_for(request, findings))
        prompts.append([{"role": m.role, "content": m.content} for m in rendered.messages])
    return prompts


# -- processes ---------------------------------------------------------------------------------------------------


def _free_port() -> int:
    from drafter.testing.fake_openai import free_port

    return free_port()


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTER_", "OPENAI_"))}
    return env | extra


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc); the host is shared, so CPU time per
    request is the steadier figure beside wall-clock latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            sys.exit(f"bench.overhead: {what} exited with {proc.returncode}:\n{err}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"bench.overhead: {what} did not answer {url} within {timeout_s:.0f} s")


@contextlib.contextmanager
def _process(cmd: list[str], env: dict[str, str], ready_url: str, what: str, cwd: Path) -> Iterator[int]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _wait_http(ready_url, proc, 60, what)
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def fake_server(latency_ms: float) -> Iterator[str]:
    """The fake OpenAI-compatible server in its own process; yields its base URL (its pid: FAKE_PIDS[url])."""
    port = _free_port()
    cmd = [sys.executable, "-m", "drafter.testing.fake_openai", "--port", str(port), "--latency-ms", str(latency_ms),
           "--words", str(REPLY_WORDS)]
    base = f"http://127.0.0.1:{port}/v1"
    with _process(cmd, _clean_env(), f"{base}/models", "the fake OpenAI server", PROJECT_ROOT) as pid:
        PIDS[base] = pid
        yield base


def clinician_token(env: dict[str, str], workdir: Path, *, name: str) -> str:
    """Migrate the database `env` names and create a clinician there; return the API token."""
    subprocess.run([str(DRAFTER), "db", "upgrade"], env=env, cwd=workdir, check=True, capture_output=True)
    created = subprocess.run([str(DRAFTER), "users", "create", "--name", name, "--role", "clinician"],
                             env=env, cwd=workdir, check=True, capture_output=True, text=True)
    return created.stdout.split()[-1]  # the CLI prints the new token as the last word


@contextlib.contextmanager
def service(llm_base_url: str, database_url: str | None, workdir: Path) -> Iterator[str]:
    """`drafter serve` against the fake server; yields the service's base URL once it answers (the clinician
    token for it is in TOKENS[url])."""
    port = _free_port()
    # The per-token rate limit is lifted: the bench measures drafting, not the limiter's 429s.
    env = _clean_env(DRAFTER_LLM_BASE_URL=llm_base_url, DRAFTER_LLM_API_KEY="bench", DRAFTER_LLM_MODEL="fake-model",
                     DRAFTER_DATABASE_URL=database_url or f"sqlite:///{workdir}/bench.db",
                     DRAFTER_LOG_LEVEL="WARNING", DRAFTER_RATE_LIMIT="1000000/minute")
    base = f"http://127.0.0.1:{port}"
    TOKENS[base] = clinician_token(env, workdir, name=f"bench-{port}")
    with _process([str(DRAFTER), "serve", "--port", str(port)], env, f"{base}/healthz", "drafter serve",
                  workdir) as pid:
        PIDS[base] = pid
        yield base


# -- load ---------------------------------------------------------------------------------------------------------


@dataclass
class Block:
    """One block of requests from one side."""

    side: str
    latencies_ms: list[float] = field(default_factory=list)
    server_overhead_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)  # "client" (this process), "service", "model" (fake)

    def cpu_ms_per_request(self, who: str) -> float:
        return self.cpu_s.get(who, 0.0) * 1000 / max(1, len(self.latencies_ms))

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.wall_s


async def _closed_loop(n: int, concurrency: int, call: Callable[[int], Awaitable[float | None]],
                       block: Block) -> None:
    """`concurrency` workers take request numbers 0..n-1 in turn; each records its own latency."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            try:
                server_ms = await call(i)
            except Exception:
                block.errors += 1
                continue
            block.latencies_ms.append((time.perf_counter() - started) * 1000)
            if server_ms is not None:
                block.server_overhead_ms.append(server_ms)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    block.wall_s = time.perf_counter() - started


async def run_bare(llm_base_url: str, prompts: list[list[dict[str, str]]], n: int, concurrency: int) -> Block:
    """N chat completions straight from AsyncOpenAI, as drafter's backend would send them."""
    import openai

    block = Block("bare")
    client = openai.AsyncOpenAI(base_url=llm_base_url, api_key="bench", max_retries=0,
                                timeout=httpx.Timeout(60, connect=10))

    async def call(i: int) -> None:
        response = await client.chat.completions.create(
            model="fake-model", messages=prompts[i % len(prompts)],  # type: ignore[arg-type]
            max_tokens=350, temperature=0.3)
        if not response.choices[0].message.content:
            raise RuntimeError("empty reply")

    try:
        await _closed_loop(n, concurrency, call, block)
    finally:
        await client.close()
    return block


async def run_service(base_url: str, messages: list[str], n: int, concurrency: int) -> Block:
    """N drafts through POST /v1/drafts; keeps the service's own timings.overhead_ms too."""
    block = Block("service")
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    headers = {"Authorization": f"Bearer {TOKENS[base_url]}"}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60, headers=headers) as client:

        async def call(i: int) -> float:
            response = await client.post("/v1/drafts", json={"message": {"text": messages[i % len(messages)]}})
            if response.status_code != 201:
                raise RuntimeError(f"HTTP {response.status_code}")
            return float(response.json()["timings"]["overhead_ms"])

        await _closed_loop(n, concurrency, call, block)
    return block


# -- one concurrency level ---------------------------------------------------------------------------------------


@dataclass
class Level:
    """All blocks at one concurrency level, in the order they ran."""

    concurrency: int
    latency_ms: float
    drafts: int
    pairs: list[tuple[Block, Block]] = field(default_factory=list)  # (bare, service) per repeat

    def added(self, q: float) -> list[float]:
        return [percentile(s.latencies_ms, q) - percentile(b.latencies_ms, q) for b, s in self.pairs]

    def ratios(self) -> list[float]:
        return [s.throughput / b.throughput for b, s in self.pairs]

    def service_cpu_ms(self) -> list[float]:
        return [s.cpu_ms_per_request("service") for _, s in self.pairs]


def measure_level(concurrency: int, latency_ms: float, drafts: int, repeats: int, messages: list[str],
                  prompts: list[list[dict[str, str]]], database_url: str | None) -> Level:
    """Start the fake server and the service, warm both paths up, then alternate bare and service blocks."""
    level = Level(concurrency, latency_ms, drafts)
    with tempfile.TemporaryDirectory(prefix="drafter-bench-") as tmp, fake_server(latency_ms) as llm_url, \
            service(llm_url, database_url, Path(tmp)) as base_url:
        warm = max(concurrency, 8)
        asyncio.run(run_bare(llm_url, prompts, warm, concurrency))
        asyncio.run(run_service(base_url, messages, warm, concurrency))
        for r in range(repeats):
            # Alternate which side goes first, so a neighbour's burst does not always land on the same side.
            order = ("bare", "service") if r % 2 == 0 else ("service", "bare")
            got: dict[str, Block] = {}
            for side in order:
                pids = {"model": PIDS[llm_url], "service": PIDS[base_url]}
                before = {who: cpu_seconds(pid) for who, pid in pids.items()} | {"client": time.process_time()}
                if side == "bare":
                    got[side] = asyncio.run(run_bare(llm_url, prompts, drafts, concurrency))
                else:
                    got[side] = asyncio.run(run_service(base_url, messages, drafts, concurrency))
                after = {who: cpu_seconds(pid) for who, pid in pids.items()} | {"client": time.process_time()}
                got[side].cpu_s = {who: after[who] - before[who] for who in before}
            level.pairs.append((got["bare"], got["service"]))
            b, s = got["bare"], got["service"]
            print(f"  c={concurrency} run {r + 1} ({order[0]} first): bare p50 {percentile(b.latencies_ms, 50):.1f} "
                  f"p99 {percentile(b.latencies_ms, 99):.1f} ms {b.throughput:.1f}/s; service p50 "
                  f"{percentile(s.latencies_ms, 50):.1f} p99 {percentile(s.latencies_ms, 99):.1f} ms "
                  f"{s.throughput:.1f}/s; errors {b.errors}/{s.errors}; CPU ms per request: client "
                  f"{b.cpu_ms_per_request('client'):.2f}/{s.cpu_ms_per_request('client'):.2f}, service "
                  f"{s.cpu_ms_per_request('service'):.2f}, fake model {b.cpu_ms_per_request('model'):.2f}/"
                  f"{s.cpu_ms_per_request('model'):.2f}", flush=True)
    return level


def _verdict(added: list[float], target: float) -> bool | None:
    """Met or not; None (no verdict) when the service came out faster than the bare client, which only happens
    when the bare side itself was starved of CPU (its tail then says nothing about drafter)."""
    median = statistics.median(added)
    return None if median < 0 else median <= target


def _rows(levels: list[Level]) -> list[Row]:
    rows: list[Row] = []
    for lv in levels:
        tag = f"c={lv.concurrency}"
        p50, p99, ratio = lv.added(50), lv.added(99), lv.ratios()
        rows += [
            Row("overhead", f"{tag}: added p50 ms", spread(p50), f"<= {TARGET_P50_MS:g}", _verdict(p50, TARGET_P50_MS)),
            Row("overhead", f"{tag}: added p99 ms", spread(p99), f"<= {TARGET_P99_MS:g}", _verdict(p99, TARGET_P99_MS)),
            Row("overhead", f"{tag}: throughput service/bare", spread(ratio, "{:.3f}x"), f">= {TARGET_RATIO:g}x",
                statistics.median(ratio) >= TARGET_RATIO),
            Row("overhead", f"{tag}: service process CPU ms per draft", spread(lv.service_cpu_ms())),
        ]
    return rows


def _detail(levels: list[Level], database: str) -> str:
    lines = ["| concurrency | fake latency | drafts/run | bare p50 / p99 ms | service p50 / p99 ms "
             "| added p50 / p99 ms | service timings.overhead_ms p50 / p99 | bare / service per s | ratio "
             "| service CPU ms/draft | client CPU ms/req bare / service |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for lv in levels:
        for b, s in lv.pairs:
            b50, b99 = percentile(b.latencies_ms, 50), percentile(b.latencies_ms, 99)
            s50, s99 = percentile(s.latencies_ms, 50), percentile(s.latencies_ms, 99)
            lines.append(
                f"| {lv.concurrency} | {lv.latency_ms:g} ms | {lv.drafts} | {b50:.1f} / {b99:.1f} | {s50:.1f} / "
                f"{s99:.1f} | {s50 - b50:.2f} / {s99 - b99:.2f} | "
                f"{percentile(s.server_overhead_ms, 50):.2f} / {percentile(s.server_overhead_ms, 99):.2f} | "
                f"{b.throughput:.1f} / {s.throughput:.1f} | {s.throughput / b.throughput:.3f} | "
                f"{s.cpu_ms_per_request('service'):.2f} | {b.cpu_ms_per_request('client'):.2f} / "
                f"{s.cpu_ms_per_request('client'):.2f} |")
    return (f"database: {database}; one uvicorn worker; reply {REPLY_WORDS} words; every run below, in order\n\n"
            + "\n".join(lines))


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure both concurrency levels, print the detail and return the summary rows."""
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=200, help="requests per side and run at concurrency 1 "
                        "(at higher concurrency: this many per worker slot / 3, at least 5 rounds of workers)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=3, help="runs per side, alternating")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=None,
                        help="fake model latency per concurrency level (default 20 ms at 1, 1000 ms above)")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file per level")
    args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    latencies: list[float] = args.latency_ms or [20.0 if c == 1 else 1000.0 for c in args.concurrency]
    if len(latencies) != len(args.concurrency):
        parser.error("give one --latency-ms per --concurrency")
    messages = patient_messages()
    prompts = chat_prompts(messages)
    started = time.perf_counter()
    print(f"bench.overhead, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {machine()}", flush=True)
    levels = []
    for c, lat in zip(args.concurrency, latencies, strict=True):
        n = args.drafts if c == 1 else max(c * 5, args.drafts * c // 30)
        levels.append(measure_level(c, lat, n, args.repeats, messages, prompts, args.database_url))
    database = "PostgreSQL" if args.database_url and args.database_url.startswith("postgresql") else "SQLite (WAL)"
    print(f"\n{_detail(levels, database)}\n\nafter: {machine()}; took {time.perf_counter() - started:.0f} s")
    return _rows(levels)


if __name__ == "__main__":
    for row in main():
        print(f"{row.figure}: {row.measured} (target {row.target}: {row.verdict})")
