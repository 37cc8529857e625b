"""Every guardrail finding on every text we have, written to a file, to show a speed-up changes no finding.

    .venv/bin/python -m bench._equivalence --out /tmp/findings-branch.jsonl
    cd /work/main && .venv/bin/python - --out /tmp/findings-main.jsonl < /work/wt-speed/bench/_equivalence.py
    cmp /tmp/findings-main.jsonl /tmp/findings-branch.jsonl

The second form runs this file against another checkout's code (read from stdin, so that checkout's guardrails
and bench packages are the ones imported).

Texts: every row of the labelled corpus (input and fresh messages through the input checks, output rows through
the output checks, also with the system prompt and supplied identifiers, and upper-cased or with a character
that defeats lower-cased matching), every MeqSum message (through the input checks, and as a draft through the
output checks), and the benchmark's 150-word drafts (as they are, and made new as the benchmark makes them).
Each case runs twice, so a finding that depends on what the caches hold shows up as a difference too.
One JSON line per case: its name and its findings (check, severity, code, target, span, message, suggestion).
The leading underscore keeps `python -m bench` from running it as a benchmark.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from guardrails import InputContext, OutputContext, load_policy, run_checks
from guardrails.evaluate import DEFAULT_CORPUS, DEFAULT_MEQSUM, output_context, read_jsonl, read_meqsum
from guardrails.finding import Finding

_SYSTEM_PROMPT = Path("prompts/default/system.j2")
_IDENTIFIERS = {"name": "Maria Lopez", "date_of_birth": "03/14/1962", "mrn": "MRN 4821733", "phone": "555-201-8890"}


def _cases(corpus: Path, meqsum: Path) -> Iterator[tuple[str, InputContext | OutputContext]]:
    system = _SYSTEM_PROMPT.read_text(encoding="utf-8") if _SYSTEM_PROMPT.exists() else ""
    for name in ("input", "fresh"):
        for row in read_jsonl(corpus / f"{name}.jsonl"):
            yield f"{row['id']}", InputContext(text=row["text"])
            values = row.get("phi") or []
            if values:
                yield f"{row['id']}+identifiers", InputContext(
                    text=row["text"], identifiers={f"value{i}": v for i, v in enumerate(values)})
    for row in read_jsonl(corpus / "output.jsonl"):
        ctx = output_context(row)
        yield row["id"], ctx
        yield f"{row['id']}+prompt", replace(ctx, system_prompt=system, identifiers=_IDENTIFIERS,
                                             clinician_name="Dr. Reyes")
        yield f"{row['id']}+upper", replace(ctx, draft=ctx.draft.upper())
        yield f"{row['id']}+sigma", replace(ctx, draft=ctx.draft + " Σ")
        yield f"{row['id']}+es", replace(ctx, language="es")
    messages = read_meqsum(meqsum)
    for i, text in enumerate(messages):
        yield f"meqsum-{i}", InputContext(text=text)
        yield f"meqsum-{i}+draft", OutputContext(draft=text, message=messages[i - 1], system_prompt=system)
    from bench.guardrails import _fresh, _tag, drafts_of  # the benchmark's own drafts

    for i, ctx in enumerate(drafts_of()):
        yield f"bench-{i}", ctx
        yield f"bench-{i}+new", _fresh(ctx, _tag(i))


def _row(finding: Finding) -> dict[str, object]:
    return {"check": finding.check, "severity": finding.severity.value, "code": finding.code,
            "target": finding.target, "span": list(finding.span) if finding.span else None,
            "message": finding.message, "suggestion": finding.suggestion}


def main(argv: Sequence[str] | None = None) -> None:
    """Write one JSON line of findings per case (each case run twice)."""
    parser = argparse.ArgumentParser(prog="python -m bench._equivalence", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--meqsum", type=Path, default=DEFAULT_MEQSUM)
    args = parser.parse_args(argv)
    policy = load_policy()
    cases = list(_cases(args.corpus, args.meqsum))
    findings = 0
    with args.out.open("w", encoding="utf-8") as out:
        for round_ in ("first", "again"):
            for name, ctx in cases:
                found = (run_checks("input", ctx, policy) if isinstance(ctx, InputContext)
                         else run_checks("output", ctx, policy))
                rows = [_row(f) for f in found]
                findings += len(rows)
                out.write(json.dumps({"case": name, "round": round_, "findings": rows}, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases, twice; {findings} findings -> {args.out}")


if __name__ == "__main__":
    main()
