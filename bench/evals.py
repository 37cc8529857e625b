"""Speed of `drafter eval run`: 1,000 cases against the fake OpenAI server (own process, 200 ms per reply) at
concurrency 50, next to a bare AsyncOpenAI loop making the same number of calls in the same run.

    .venv/bin/python -m bench.evals [--cases 1000] [--concurrency 50] [--latency-ms 200]

Ideal = cases / concurrency x latency (1,000 / 50 x 0.2 s = 4 s). Target (issue 6): the eval run within 1.15x of
ideal. Every case text is made unique so no completion comes from the cache. The bare loop shows what the openai
client alone costs on this machine (PITFALLS: about 100-190 requests/s on 2 cores), so the eval's own overhead
is the gap between the two figures, not the gap to the ideal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import httpx
import openai

from drafter.settings import PROJECT_ROOT, Settings
from drafter.testing.fake_openai import free_port
from evals.runner import RunOptions, run_eval
from guardrails.checks import readability

TARGET_RATIO = 1.15
DATASET = PROJECT_ROOT / "evals" / "datasets" / "portal_v1.jsonl"


def write_cases(path: Path, count: int) -> None:
    """`count` cases cycled from the shipped dataset, each text made unique (so nothing is served from cache)."""
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            row = dict(rows[i % len(rows)])
            row["id"] = f"bench-{i:05d}"
            row["text"] = f"{row['text']} (ref {i})"
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def start_server(port: int, latency_ms: float) -> subprocess.Popen[bytes]:
    """The fake OpenAI server in its own process, so it does not share a GIL with what is measured."""
    process = subprocess.Popen([sys.executable, "-m", "drafter.testing.fake_openai", "--port", str(port),
                                "--latency-ms", str(latency_ms)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the fake OpenAI server did not start within 60 s")


def rendered_prompts(settings: Settings, dataset: Path) -> list[list[dict[str, str]]]:
    """The exact chat messages the eval will send for each case (rendered before timing, so the bare loop sends
    prompts of the same size without doing any of the pipeline's work)."""
    from drafter.pipeline import Pipeline
    from drafter.prompting import PromptRenderer, TemplateSet
    from drafter.services import pipeline_config
    from evals.dataset import load_dataset
    from guardrails import load_policy

    renderer = PromptRenderer(TemplateSet.from_dir(settings.prompts_dir / settings.template_set))
    pipeline = Pipeline(llm=None, store=None, renderer=renderer, policy=load_policy(),  # type: ignore[arg-type]
                        config=pipeline_config(settings, demo_model=False))
    prompts = []
    for case in load_dataset(dataset):
        request = case.request()
        findings, level = pipeline.assess_input(request)
        variables = pipeline.prompt_variables(request, findings, level)
        llm_request = renderer.render(variables, mode="chat", max_tokens=settings.llm_max_tokens,
                                      temperature=settings.llm_temperature)
        prompts.append([{"role": m.role, "content": m.content} for m in llm_request.messages])
    return prompts


async def bare_loop(base_url: str, prompts: list[list[dict[str, str]]], concurrency: int) -> float:
    """Seconds for one chat completion per prompt through one AsyncOpenAI client, `concurrency` at a time."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(messages: list[dict[str, str]]) -> None:
        async with semaphore:
            await client.chat.completions.create(model="fake-model", max_tokens=350, temperature=0.3,
                                                 messages=messages)  # type: ignore[arg-type]

    started = time.perf_counter()
    await asyncio.gather(*(one(m) for m in prompts))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def eval_run(settings: Settings, dataset: Path, out: Path, concurrency: int) -> tuple[float, dict[str, float]]:
    """Seconds for the whole `eval run` (drafting, scoring, reports, storing the run), and per phase."""
    started = time.perf_counter()
    outcome = await run_eval(settings, RunOptions(dataset=dataset, out=out, concurrency=concurrency, progress=False,
                                                  judge=False))
    elapsed = time.perf_counter() - started
    if outcome.metrics["failed"] or outcome.cache_hits:
        raise SystemExit(f"bench run invalid: {outcome.metrics['failed']} failed, {outcome.cache_hits} cache hits")
    return elapsed, outcome.phases


def main(argv: Iterable[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the figures, and return them (for a bench runner)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args(list(argv) if argv is not None else None)
    ideal = args.cases / args.concurrency * args.latency_ms / 1000
    port = free_port()
    server = start_server(port, args.latency_ms)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-evals-") as tmp:
            root = Path(tmp)
            dataset = root / "cases.jsonl"
            write_cases(dataset, args.cases)
            settings = Settings(llm_base_url=base_url, llm_api_key="bench", llm_model="fake-model",
                                database_url=f"sqlite:///{root / 'main.db'}", eval_judge="off",
                                _env_file=None)
            readability.warm()  # a one-off half second per process, paid before any case either way
            prompts = rendered_prompts(settings, dataset)
            asyncio.run(bare_loop(base_url, prompts[:args.concurrency], args.concurrency))  # connections, imports
            bare = asyncio.run(bare_loop(base_url, prompts, args.concurrency))
            evaluated, phases = asyncio.run(eval_run(settings, dataset, root / "run", args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    drafting = phases["drafting"]
    figures = {"drafting_s": drafting, "drafting_vs_ideal": drafting / ideal, "cases": args.cases,
               "concurrency": args.concurrency, "latency_ms": args.latency_ms,
               "ideal_s": ideal, "bare_openai_s": bare, "eval_run_s": evaluated,
               "eval_vs_ideal": evaluated / ideal, "bare_vs_ideal": bare / ideal, "eval_vs_bare": evaluated / bare}
    print(f"# {platform.python_implementation()} {platform.python_version()} · {os.cpu_count()} cores · "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{args.cases} cases, concurrency {args.concurrency}, server latency {args.latency_ms:.0f} ms")
    print(f"ideal                      {ideal:7.2f} s")
    print(f"bare AsyncOpenAI loop      {bare:7.2f} s   {bare / ideal:5.2f}x ideal   (same prompts, no pipeline)")
    print(f"drafter eval run           {evaluated:7.2f} s   {evaluated / ideal:5.2f}x ideal   "
          f"{evaluated / bare:5.2f}x the bare loop   (target <= {TARGET_RATIO:.2f}x ideal: "
          f"{'met' if evaluated / ideal <= TARGET_RATIO else 'NOT met'})")
    print(f"  of which drafting        {drafting:7.2f} s   {drafting / ideal:5.2f}x ideal   "
          f"{drafting / bare:5.2f}x the bare loop")
    print("  phases: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases.items()))
    return figures


if __name__ == "__main__":
    main()
