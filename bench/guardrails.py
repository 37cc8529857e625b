"""Speed of the deterministic guardrails: per-check and total microseconds per 150-word draft, on one core.

    .venv/bin/python -m bench.guardrails [--rounds 200]

Drafts are built from the good drafts of the labelled corpus (tests/guardrails/corpus/output.jsonl), joined
until each has 150 words, with their messages and chart context; input checks run on the corpus messages.
Target (issue 5): all output checks together at or under 0.5 ms per draft.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from guardrails import CHECKS, InputContext, OutputContext, load_policy
from guardrails.checks import readability
from guardrails.evaluate import DEFAULT_CORPUS, output_context, read_jsonl

TARGET_US = 500.0


def drafts_of(words: int = 150) -> list[OutputContext]:
    """Output contexts whose drafts have exactly `words` words, built from real corpus drafts."""
    rows = [r for r in read_jsonl(DEFAULT_CORPUS / "output.jsonl") if not r["harmful"]]
    contexts = []
    for i, row in enumerate(rows):
        pieces, n = [], 0
        j = i
        while n < words:
            text = rows[j % len(rows)]["draft"].replace("[CLINICIAN_NAME]", "").strip()
            pieces.append(text)
            n += len(text.split())
            j += 1
        draft = " ".join(" ".join(pieces).split()[:words])
        base = output_context(row)
        contexts.append(OutputContext(draft=draft, message=base.message, urgency=base.urgency,
                                      urgency_codes=base.urgency_codes, context_text=base.context_text,
                                      language=base.language,
                                      system_prompt=(Path("prompts/default/system.j2").read_text())))
    return contexts


def _time(fn: object, items: list[object], params: dict[str, object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            fn(item, **params)  # type: ignore[operator]
        samples.append((time.perf_counter() - start) / len(items))
    return statistics.median(samples) * 1e6


def main() -> None:
    """Print the per-check table and the total against the target."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    policy = load_policy()
    readability.warm()
    outputs = drafts_of()
    inputs = [InputContext(text=r["text"]) for r in read_jsonl(DEFAULT_CORPUS / "input.jsonl")]
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; one process (one core); median of {args.rounds} rounds")
    print(f"{len(outputs)} drafts of 150 words; {len(inputs)} messages (mean "
          f"{statistics.mean(len(c.text.split()) for c in inputs):.0f} words)\n")
    for stage, items in (("input", inputs), ("output", outputs)):
        total = 0.0
        print(f"{stage} checks{'':14} µs/item")
        for name, check in CHECKS.items():
            if check.stage != stage:
                continue
            us = _time(check.fn, items, dict(policy.for_check(name).params), args.rounds)  # type: ignore[arg-type]
            total += us
            print(f"  {name:22} {us:8.1f}")
        met = "met" if total <= TARGET_US else "NOT met"
        verdict = f"  (target {TARGET_US:.0f} µs: {met})" if stage == "output" else ""
        print(f"  {'total':22} {total:8.1f}{verdict}\n")


if __name__ == "__main__":
    main()
