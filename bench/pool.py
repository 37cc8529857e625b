"""The OpenAI client's connection pool: httpcore's own against drafter's LinearConnectionPool, side by side.

    .venv/bin/python -m bench.pool [--requests 1000] [--concurrency 50] [--latency-ms 200] [--work-ms 2] [--repeats 3]

`concurrency` tasks each make chat completions through one AsyncOpenAI client against the fake OpenAI server (own
process), doing `work-ms` of CPU between calls as drafting does (input checks and rendering before, output checks
and storing after), so connections sit idle between calls. The two pools alternate; the figures are the client
process's CPU per request, the wall time, and how often the pool ran its assignment pass per request (2 is the
least: one when the request joins, one when it leaves; more means requests woke for a connection another took).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Iterable

import httpcore
import openai

from bench.evals import start_server
from bench.report import Row, machine
from drafter.llm.pool import LinearConnectionPool, pooled_transport
from drafter.testing.fake_openai import free_port

MESSAGES = [{"role": "system", "content": "You draft replies for a care team. " * 80},
            {"role": "user", "content": "My knee has been swollen since the weekend and it hurts to walk. " * 3}]


class _Counting:
    """Counts assignment passes (mixed into each pool class)."""

    passes = 0

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        _Counting.passes += 1
        return super()._assign_requests_to_connections()  # type: ignore[misc, no-any-return]


class CountingUpstream(_Counting, httpcore.AsyncConnectionPool):
    """httpcore's pool, counted."""


class CountingLinear(_Counting, LinearConnectionPool):
    """drafter's pool, counted."""


def client(base_url: str, pool_class: type[httpcore.AsyncConnectionPool]) -> openai.AsyncOpenAI:
    """The SDK's client on drafter's transport, its pool counted as `pool_class` (CountingUpstream puts httpcore's
    own assignment pass back)."""
    transport = pooled_transport(limits=openai.DEFAULT_CONNECTION_LIMITS)
    transport._pool.__class__ = pool_class
    return openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0,
                              http_client=openai.DefaultAsyncHttpxClient(transport=transport))


def _work(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


async def one_run(base_url: str, pool_class: type[httpcore.AsyncConnectionPool], *, requests: int,
                  concurrency: int, work_s: float) -> tuple[float, float, float]:
    """(wall s, client CPU ms per request, passes per request) for `requests` calls."""
    sdk = client(base_url, pool_class)
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            _work(work_s / 2)
            await sdk.chat.completions.create(model="fake-model", messages=MESSAGES, max_tokens=350)  # type: ignore[arg-type]
            _work(work_s / 2)

    await asyncio.gather(*(sdk.chat.completions.create(model="fake-model", messages=MESSAGES, max_tokens=10)  # type: ignore[arg-type]
                           for _ in range(concurrency)))  # connections open before timing
    _Counting.passes = 0
    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu - requests * work_s) * 1000 / requests
    passes = _Counting.passes / requests
    await sdk.close()
    return wall, cpu_ms, passes


def main(argv: Iterable[str] | None = None) -> list[Row]:
    """Run both pools alternately; print each run and return the table's rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--work-ms", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(list(argv) if argv is not None else None)
    print(f"bench.pool; machine: {machine()}")
    print(f"{args.requests} chat completions, {args.concurrency} at once, fake model {args.latency_ms:.0f} ms in its "
          f"own process, {args.work_ms:g} ms of CPU per call between calls (not counted in the CPU figures)")
    port = free_port()
    server = start_server(port, args.latency_ms)
    runs: dict[str, list[tuple[float, float, float]]] = {"httpcore": [], "linear": []}
    pools: dict[str, type[httpcore.AsyncConnectionPool]] = {"httpcore": CountingUpstream, "linear": CountingLinear}
    try:
        for repeat in range(args.repeats):
            order = ["httpcore", "linear"] if repeat % 2 == 0 else ["linear", "httpcore"]
            for name in order:
                wall, cpu_ms, passes = asyncio.run(one_run(
                    f"http://127.0.0.1:{port}/v1", pools[name], requests=args.requests,
                    concurrency=args.concurrency, work_s=args.work_ms / 1000))
                runs[name].append((wall, cpu_ms, passes))
                print(f"  run {repeat + 1} {name:8}  wall {wall:6.2f} s  client CPU {cpu_ms:5.2f} ms per request "
                      f"(besides the work)  pool passes {passes:4.1f} per request")
    finally:
        server.terminate()
        server.wait(timeout=10)

    def median(name: str, index: int) -> float:
        return statistics.median(run[index] for run in runs[name])

    ideal = args.requests / args.concurrency * args.latency_ms / 1000
    cpu_ratio = median("httpcore", 1) / median("linear", 1)
    print(f"medians: httpcore {median('httpcore', 0):.2f} s, {median('httpcore', 1):.2f} ms, "
          f"{median('httpcore', 2):.1f} passes; linear {median('linear', 0):.2f} s, {median('linear', 1):.2f} ms, "
          f"{median('linear', 2):.1f} passes (ideal wall {ideal:.2f} s)")
    print(f"httpcore's pool costs {cpu_ratio:.2f}x the CPU per request of drafter's; after: {machine()}")
    label = f"c={args.concurrency}, {args.work_ms:g} ms work between calls"
    return [
        Row("pool", f"{label}: client CPU ms per request, httpcore / linear",
            f"{median('httpcore', 1):.2f} / {median('linear', 1):.2f} ({cpu_ratio:.2f}x)"),
        Row("pool", f"{label}: pool passes per request, httpcore / linear",
            f"{median('httpcore', 2):.1f} / {median('linear', 2):.1f}"),
        Row("pool", f"{label}: wall s, httpcore / linear (ideal {ideal:.2f})",
            f"{median('httpcore', 0):.2f} / {median('linear', 0):.2f}"),
    ]


if __name__ == "__main__":
    main()
