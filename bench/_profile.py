"""Profile drafts through the real app in one process with pyinstrument (a dev dependency); not a benchmark.

    .venv/bin/python -m bench._profile [--drafts 300] [--concurrency 8]

The app (create_app, lifespan, SQLite, guardrails, the openai backend) is driven over ASGI by httpx, against the
fake OpenAI server in its own process with no latency, so the profile shows where drafter's own time goes. The
leading underscore keeps `python -m bench` from running it as a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.overhead import fake_server, patient_messages


async def _drive(base_llm: str, db: Path, drafts: int, concurrency: int, profile: bool) -> None:
    from pyinstrument import Profiler

    from drafter.api.app import create_app
    from drafter.identity import Role
    from drafter.settings import Settings

    settings = Settings(llm_base_url=base_llm, llm_api_key="bench", llm_model="fake-model",
                        database_url=f"sqlite:///{db}", log_level="WARNING",
                        rate_limit="1000000/minute")
    app = create_app(settings)
    messages = patient_messages()
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        _, token = await app.state.authenticator.accounts.create_user("profile", Role.CLINICIAN, actor="bench")
        client.headers["Authorization"] = f"Bearer {token}"
        for text in messages[:10]:  # warm-up: first-use imports and caches
            (await client.post("/v1/drafts", json={"message": {"text": text}})).raise_for_status()
        counter = iter(range(drafts))

        async def worker() -> None:
            for i in counter:
                response = await client.post("/v1/drafts", json={"message": {"text": messages[i % len(messages)]}})
                response.raise_for_status()

        profiler = Profiler(async_mode="disabled", interval=0.0005) if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.start()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if profiler:
            profiler.stop()
        wall = time.perf_counter() - started
        print(f"{drafts} drafts at concurrency {concurrency}: {wall:.2f} s, {drafts / wall:.1f} drafts/s, "
              f"{wall / drafts * 1000:.2f} ms per draft (app + fake server round trip, one process)")
        if profiler:
            print(profiler.output_text(unicode=True, color=False, show_all=False))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the drafts under the profiler and print the call tree."""
    parser = argparse.ArgumentParser(prog="python -m bench._profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-profile", action="store_true", help="only time it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, fake_server(0) as llm_url:
        asyncio.run(_drive(llm_url, Path(tmp) / "p.db", args.drafts, args.concurrency, not args.no_profile))


if __name__ == "__main__":
    main()
