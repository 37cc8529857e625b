"""What pre-generation saves a clinician: opening a pre-generated draft vs drafting on demand, in one run.

    .venv/bin/python -m bench.pregeneration [--latency-ms 800] [--messages 10]

The app runs in-process (FastAPI test client, SQLite in a temp folder) against the fake OpenAI-compatible
server with a fixed model latency. Side by side:
  on demand      POST /v1/drafts: the clinician waits for the model on every message;
  pre-generated  POST /v1/messages when the message arrives (answers at once), the worker drafts it, and
                 opening it later is one GET /v1/drafts/{id}.
Prints medians (ms) and the ratio; figures depend on the host, so compare them within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from drafter.api.app import create_app
from drafter.identity import Role
from drafter.services import open_services
from drafter.settings import Settings
from drafter.storage.accounts import AccountStore
from drafter.testing.fake_openai import FakeOpenAIServer

MESSAGE = {"message": {"text": "My knee still hurts when I climb stairs. Can I keep doing my exercises?"}}


async def _token(settings: Settings) -> str:
    async with open_services(settings) as services:
        _, token = await AccountStore(services.store).create_user("bench", Role.CLINICIAN, actor="bench")
    return token


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def main() -> None:
    """Run both ways and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=800)
    parser.add_argument("--messages", type=int, default=10)
    args = parser.parse_args()
    with FakeOpenAIServer(latency_s=args.latency_ms / 1000) as llm, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", llm_base_url=llm.base_url,
                            llm_api_key="bench", pregenerate_sweep_s=0.05)
        token = asyncio.run(_token(settings))
        with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as http:
            on_demand, accept, ready, opened = [], [], [], []
            for _ in range(args.messages):
                start = time.perf_counter()
                assert http.post("/v1/drafts", json=MESSAGE).status_code == 201
                on_demand.append(time.perf_counter() - start)
            for _ in range(args.messages):
                start = time.perf_counter()
                draft_id = http.post("/v1/messages", json=MESSAGE).json()["id"]
                accept.append(time.perf_counter() - start)
                while http.get(f"/v1/drafts/{draft_id}").json()["status"] in {"queued", "generating"}:
                    time.sleep(0.005)
                ready.append(time.perf_counter() - start)
                start = time.perf_counter()
                assert http.get(f"/v1/drafts/{draft_id}").json()["text"]
                opened.append(time.perf_counter() - start)
    print(f"model latency {args.latency_ms} ms, {args.messages} messages each, medians:")
    print(f"  on demand:      POST /v1/drafts          {_ms(on_demand):8.1f} ms  (the clinician waits)")
    print(f"  pre-generated:  POST /v1/messages        {_ms(accept):8.1f} ms  (the portal waits)")
    print(f"                  accepted -> draft ready  {_ms(ready):8.1f} ms  (in the background)")
    print(f"                  open: GET /v1/drafts/id  {_ms(opened):8.1f} ms  (the clinician waits)")
    print(f"  opening a pre-generated draft is {statistics.median(on_demand) / statistics.median(opened):.0f}x "
          "faster than drafting on demand")


if __name__ == "__main__":
    main()
