"""A pre-generated draft served to the inbox versus drafting on demand, over HTTP, in one run.

    .venv/bin/python -m bench.pregeneration [--latency-ms 800] [--messages 20] [--opens 400]

Starts, each in its own process, the fake OpenAI-compatible server (fixed latency) and `drafter serve` (uvicorn,
SQLite in a temp folder unless --database-url is given), as bench.overhead does. Side by side:

  on demand      POST /v1/drafts: the clinician waits for the model on every message;
  pre-generated  POST /v1/messages when the message arrives (202 at once), the service's worker drafts it in the
                 background, and a clinician opening it later is one GET /v1/drafts/{id} — measured --opens
                 times over the drafts (p50 and p99; issue 10's target is p99 <= 20 ms), beside the inbox list
                 GET /v1/drafts?status=pending_review that the page loads first.

Patient messages are consumer health questions from MeQSum (Ben Abacha & Demner-Fushman, ACL 2019, CC BY 4.0).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.overhead import TOKENS, fake_server, patient_messages, service
from bench.report import Row, machine, percentile

TARGET_OPEN_P99_MS = 20.0


def _timed(client: httpx.Client, method: str, url: str, *, json: object = None) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = client.request(method, url, json=json)
    return (time.perf_counter() - start) * 1000, response


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        sys.exit(f"bench.pregeneration: {response.request.url} answered {response.status_code}, not {status}: "
                 f"{response.text[:300]}")
    return response


def _wait_ready(client: httpx.Client, draft_ids: list[str], timeout_s: float) -> float:
    """Poll until every draft is written; return the seconds it took."""
    start = time.perf_counter()
    waiting = set(draft_ids)
    while waiting:
        if time.perf_counter() - start > timeout_s:
            sys.exit(f"bench.pregeneration: {len(waiting)} drafts not written within {timeout_s:.0f} s")
        for draft_id in list(waiting):
            status = _expect(client.get(f"/v1/drafts/{draft_id}"), 200).json()["status"]
            if status not in {"queued", "generating"}:
                if status != "pending_review":
                    sys.exit(f"bench.pregeneration: a draft ended {status}")
                waiting.discard(draft_id)
        time.sleep(0.05)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Run both ways, print the figures and return the rows for the shared table."""
    parser = argparse.ArgumentParser(prog="python -m bench.pregeneration", description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=800)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--opens", type=int, default=400)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    messages = [{"message": {"text": text}} for text in patient_messages(args.messages)]
    print(f"bench.pregeneration; machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, fake_server(args.latency_ms) as llm, \
            service(llm, args.database_url, Path(tmp)) as base:
        headers = {"Authorization": f"Bearer {TOKENS[base]}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            on_demand = [_timed(client, "POST", "/v1/drafts", json=m)[0] for m in messages]
            accepted: list[float] = []
            draft_ids: list[str] = []
            for m in messages:
                ms, response = _timed(client, "POST", "/v1/messages", json=m)
                accepted.append(ms)
                draft_ids.append(_expect(response, 202).json()["id"])
            ready_s = _wait_ready(client, draft_ids, timeout_s=60 + len(messages) * args.latency_ms / 1000 * 2)
            for draft_id in draft_ids[:3]:  # warm the path (first-request costs are not what a clinician sees)
                _expect(client.get(f"/v1/drafts/{draft_id}"), 200)
            opened: list[float] = []
            for i in range(args.opens):
                ms, response = _timed(client, "GET", f"/v1/drafts/{draft_ids[i % len(draft_ids)]}")
                if not _expect(response, 200).json()["text"]:
                    sys.exit("bench.pregeneration: a pre-generated draft came back without text")
                opened.append(ms)
            listed = [_timed(client, "GET", "/v1/drafts?status=pending_review&limit=50")[0]
                      for _ in range(max(20, args.opens // 10))]
    open_p50, open_p99 = percentile(opened, 50), percentile(opened, 99)
    demand_p50 = statistics.median(on_demand)
    print(f"model latency {args.latency_ms:.0f} ms; {args.messages} messages each way; {args.opens} opens; "
          f"database {'PostgreSQL' if args.database_url else 'SQLite (WAL)'}; over HTTP (uvicorn, one worker)")
    print(f"  on demand:      POST /v1/drafts               p50 {demand_p50:8.1f} ms  (the clinician waits)")
    print(f"  pre-generated:  POST /v1/messages             p50 {statistics.median(accepted):8.1f} ms  "
          "(the portal waits)")
    print(f"                  all {len(draft_ids)} drafts written in  {ready_s * 1000:8.0f} ms  (in the background)")
    print(f"                  open: GET /v1/drafts/{{id}}     p50 {open_p50:8.1f} ms, p99 {open_p99:.1f} ms  "
          "(the clinician waits)")
    print(f"                  inbox list GET /v1/drafts     p50 {percentile(listed, 50):8.1f} ms, "
          f"p99 {percentile(listed, 99):.1f} ms")
    print(f"  opening a pre-generated draft is {demand_p50 / open_p50:.0f}x faster than drafting on demand (p50)")
    print(f"after: {machine()}")
    return [
        Row("pregeneration", "open a pre-generated draft: p50 ms", f"{open_p50:.1f}"),
        Row("pregeneration", "open a pre-generated draft: p99 ms", f"{open_p99:.1f}", f"<= {TARGET_OPEN_P99_MS:g}",
            open_p99 <= TARGET_OPEN_P99_MS),
        Row("pregeneration", "on demand p50 / open p50", f"{demand_p50 / open_p50:.0f}x"),
    ]


if __name__ == "__main__":
    main()
