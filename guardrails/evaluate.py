"""Measure the guardrails: per-check precision and recall on the labelled corpus, false flags on real messages.

    python -m guardrails.evaluate [--corpus tests/guardrails/corpus] [--meqsum ../shared/data/meqsum.csv] [--json]

Real messages: MeqSum (Ben Abacha & Demner-Fushman, ACL 2019; CC BY 4.0), 1,000 consumer health questions
with no urgency labels, used as ordinary-message negatives: every flag on them is counted as a false flag
(an upper bound: a few of them describe real emergencies, listed under `meqsum_examples`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrails.checks import urgency
from guardrails.context import InputContext, OutputContext, PracticePolicy
from guardrails.finding import Finding, Severity, Urgency
from guardrails.policy import Policy, load_policy
from guardrails.registry import run_checks

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "tests" / "guardrails" / "corpus"
DEFAULT_MEQSUM = ROOT.parent / "shared" / "data" / "meqsum.csv"

# Which check is expected to catch which labelled harm.
HARM_CHECKS: Mapping[str, str] = {
    "directive": "directives", "promise": "promises", "ungrounded": "grounding", "phi_leak": "phi_leak",
    "prompt_leak": "prompt_leak", "false_reassurance": "false_reassurance", "dismissive": "dismissive",
    "alarmist": "alarmist", "no_acknowledgement": "acknowledgement", "no_follow_up": "follow_up",
    "missing_emergency_guidance": "emergency_guidance", "readability": "readability", "markup": "plain_text",
}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file; a bad line is an error naming file and line."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    return rows


def read_meqsum(path: Path) -> list[str]:
    """The consumer questions (column CHQ) of MeqSum."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["CHQ"] for row in csv.DictReader(handle) if row.get("CHQ")]


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    def add(self, *, expected: bool, flagged: bool, case: str) -> None:
        if expected and flagged:
            self.tp += 1
        elif expected:
            self.fn += 1
            self.misses.append(case)
        elif flagged:
            self.fp += 1
            self.false_alarms.append(case)
        else:
            self.tn += 1

    def summary(self) -> dict[str, Any]:
        positives, flagged = self.tp + self.fn, self.tp + self.fp
        return {
            "recall": round(self.tp / positives, 4) if positives else None,
            "precision": round(self.tp / flagged, 4) if flagged else None,
            "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
            "misses": self.misses[:60], "false_alarms": self.false_alarms[:60],
        }


def _input_findings(text: str, policy: Policy) -> list[Finding]:
    return run_checks("input", InputContext(text=text), policy)


def _overlaps(span: tuple[int, int] | None, start: int, end: int) -> bool:
    return span is not None and span[0] < end and start < span[1]


def evaluate_inputs(rows: Iterable[Mapping[str, Any]], policy: Policy) -> dict[str, Any]:
    """Urgency, injection, PHI and scope on the labelled input corpus."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    by_kind: dict[str, Tally] = defaultdict(Tally)
    for row in rows:
        text, case = row["text"], f"{row['id']}: {row['text'][:90]}"
        findings = _input_findings(text, policy)
        level = urgency.level_of(findings)
        label = Urgency(row["urgency"])
        tallies["emergency"].add(expected=label is Urgency.EMERGENCY, flagged=level is Urgency.EMERGENCY, case=case)
        tallies["urgent_or_emergency"].add(expected=label is not Urgency.ROUTINE, flagged=level is not Urgency.ROUTINE,
                                           case=case)
        if label is not Urgency.ROUTINE:
            by_kind[row["kind"]].add(expected=True, flagged=level.rank <= label.rank, case=case)
        tallies["injection"].add(expected=bool(row["injection"]),
                                 flagged=any(f.check == "injection" for f in findings), case=case)
        phi_spans = [f.span for f in findings if f.check == "phi"]
        expected_spans = []
        for value in row.get("phi") or []:
            start = text.find(value)
            if start >= 0:
                expected_spans.append((start, start + len(value)))
        for start, end in expected_spans:
            tallies["phi_spans"].add(expected=True, flagged=any(_overlaps(s, start, end) for s in phi_spans),
                                     case=f"{row['id']}: {text[start:end]}")
        for span in phi_spans:
            if span and not any(_overlaps(span, s, e) for s, e in expected_spans):
                tallies["phi_spans"].add(expected=False, flagged=True, case=f"{row['id']}: {text[span[0]:span[1]]}")
        scope_codes = {f.code for f in findings if f.check == "scope"}
        for scope in ("administrative", "no_reply"):
            tallies[f"scope_{scope}"].add(expected=row.get("scope") == scope, flagged=scope in scope_codes, case=case)
    return {"checks": {k: v.summary() for k, v in sorted(tallies.items())},
            "urgency_by_kind": {k: v.summary() for k, v in sorted(by_kind.items())}}


def evaluate_real_messages(texts: list[str], policy: Policy) -> dict[str, Any]:
    """Flag rates on ordinary real messages (every flag counted as false)."""
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for text in texts:
        findings = _input_findings(text, policy)
        level = urgency.level_of(findings)
        flags = {"emergency": level is Urgency.EMERGENCY, "urgent_or_emergency": level is not Urgency.ROUTINE,
                 "injection": any(f.check == "injection" for f in findings),
                 "phi": any(f.check == "phi" for f in findings)}
        for name, flagged in flags.items():
            if flagged:
                counts[name] += 1
                snippet = next((text[max(0, f.span[0] - 30):f.span[1] + 30] for f in findings
                                if f.span and f.check == ("urgency" if "urg" in name or name == "emergency" else name)),
                               text[:80])
                examples[name].append(" ".join(snippet.split()))
    n = len(texts)
    return {"messages": n, "flag_rate": {k: round(counts[k] / n, 4) for k in ("emergency", "urgent_or_emergency",
                                                                             "injection", "phi")},
            "examples": {k: v[:12] for k, v in examples.items()}}


def output_context(row: Mapping[str, Any]) -> OutputContext:
    """The OutputContext of an output-corpus row, as the pipeline would build it."""
    ctx = row.get("context") or {}
    context_text = "\n".join([*(ctx.get("medications") or []), *(ctx.get("problems") or []),
                              *(ctx.get("recent_results") or []), ctx.get("notes") or ""])
    level = Urgency(row.get("urgency", "routine"))
    codes = frozenset({row.get("urgency_kind", "none")}) | frozenset(
        f.code for f in urgency.check(InputContext(text=row["message"])) if f.check == "urgency")
    return OutputContext(draft=row["draft"], message=row["message"], urgency=level, urgency_codes=codes,
                         practice=PracticePolicy(), context_text=context_text,
                         language="es" if row.get("language") == "es" else _guess_language(row["message"]))


def _guess_language(text: str) -> str:
    spanish = sum(w in {"el", "la", "de", "que", "mi", "por", "tengo", "estoy", "usted", "para", "con"}
                  for w in text.lower().split())
    return "es" if spanish >= 2 else "en"


# Harms that must hold a draft (block); the others (tone and form) are flagged for the clinician (warn).
SAFETY_HARMS = frozenset({"directive", "promise", "ungrounded", "phi_leak", "prompt_leak", "false_reassurance",
                          "dismissive", "missing_emergency_guidance"})


def evaluate_outputs(rows: Iterable[Mapping[str, Any]], policy: Policy) -> dict[str, Any]:
    """Per-check precision/recall against the labelled harms; how many harmful drafts are held."""
    per_check: dict[str, Tally] = defaultdict(Tally)
    held, flagged_any, good_held, good_flagged, harmful_n, good_n = 0, 0, 0, 0, 0, 0
    safety_n, safety_held, style_n, style_flagged = 0, 0, 0, 0
    missed_harmful: list[str] = []
    for row in rows:
        ctx = output_context(row)
        findings = run_checks("output", ctx, policy)
        fired = {f.check for f in findings}
        blocked = any(f.severity is Severity.BLOCK for f in findings)
        harms = set(row.get("harms") or [])
        case = f"{row['id']}: {row['draft'][:90]}"
        for harm, check in HARM_CHECKS.items():
            per_check[check].add(expected=harm in harms, flagged=check in fired,
                                 case=f"{case} [{','.join(sorted(harms)) or 'good'}]")
        if row.get("harmful"):
            harmful_n += 1
            held += blocked
            flagged_any += bool(findings)
            if harms & SAFETY_HARMS:
                safety_n += 1
                safety_held += blocked
                if not blocked:
                    missed_harmful.append(f"{case} [{','.join(sorted(harms))}]")
            else:
                style_n += 1
                style_flagged += bool(findings)
                if not findings:
                    missed_harmful.append(f"{case} [{','.join(sorted(harms))}] (not flagged)")
        else:
            good_n += 1
            good_held += blocked
            good_flagged += bool(findings)
    return {
        "harmful_drafts": harmful_n, "good_drafts": good_n,
        "harmful_held": round(held / harmful_n, 4) if harmful_n else None,
        "harmful_flagged": round(flagged_any / harmful_n, 4) if harmful_n else None,
        "good_held": round(good_held / good_n, 4) if good_n else None,
        "good_flagged": round(good_flagged / good_n, 4) if good_n else None,
        "safety_harmful_drafts": safety_n, "style_harmful_drafts": style_n,
        "safety_harmful_held": round(safety_held / safety_n, 4) if safety_n else None,
        "style_harmful_flagged": round(style_flagged / style_n, 4) if style_n else None,
        "harmful_not_held": missed_harmful[:60],
        "checks": {k: v.summary() for k, v in sorted(per_check.items())},
    }


def split_rows(rows: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """'heldout' is every 5th case (by id number), never looked at while tuning the rules; 'dev' the rest."""
    if split == "all":
        return rows

    def held(row: Mapping[str, Any]) -> bool:
        return int(str(row["id"]).rsplit("-", 1)[-1]) % 5 == 0

    return [r for r in rows if held(r) == (split == "heldout")]


def fresh_halves(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The fresh set (written later, blind, to paraphrase): odd ids may inform rule changes, even ids never do."""
    odd = [r for r in rows if int(str(r["id"]).rsplit("-", 1)[-1]) % 2 == 1]
    even = [r for r in rows if int(str(r["id"]).rsplit("-", 1)[-1]) % 2 == 0]
    return odd, even


def evaluate(corpus: Path, meqsum: Path, policy: Policy, split: str = "all") -> dict[str, Any]:
    """Everything, as one JSON-able report."""
    # The output corpus is judged on drafts as written: the pipeline's policy insertion of emergency
    # guidance happens before these checks in production and is measured by the pipeline tests instead.
    return {
        "split": split,
        "input": evaluate_inputs(split_rows(read_jsonl(corpus / "input.jsonl"), split), policy),
        "meqsum": evaluate_real_messages(read_meqsum(meqsum), policy),
        "output": evaluate_outputs(split_rows(read_jsonl(corpus / "output.jsonl"), split), policy),
        **_fresh(corpus, policy),
    }


def _fresh(corpus: Path, policy: Policy) -> dict[str, Any]:
    path = corpus / "fresh.jsonl"
    if not path.exists():
        return {}
    odd, even = fresh_halves(read_jsonl(path))
    return {"fresh_tuning_half": evaluate_inputs(odd, policy), "fresh_blind_half": evaluate_inputs(even, policy)}


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{value * 100:5.1f}%"


def _row(name: str, s: Mapping[str, Any]) -> str:
    return f"  {name:24} {_pct(s['recall']):>7} {_pct(s['precision']):>9} {s['tp']:4} {s['fp']:3} {s['fn']:3}"


def render_table(report: Mapping[str, Any]) -> str:
    """A plain-text table of the headline figures."""
    lines = ["Input checks (labelled corpus)", f"  {'check':24} {'recall':>7} {'precision':>9}   tp  fp  fn"]
    for name, s in report["input"]["checks"].items():
        lines.append(_row(name, s))
    lines.append("  urgency recall by kind: " + ", ".join(
        f"{k} {_pct(v['recall']).strip()}" for k, v in report["input"]["urgency_by_kind"].items()))
    m = report["meqsum"]
    lines.append(f"\nReal messages (MeqSum, n={m['messages']}): flag rates (all counted as false) " + ", ".join(
        f"{k} {_pct(v).strip()}" for k, v in m["flag_rate"].items()))
    for key, title in (("fresh_tuning_half", "Fresh set, odd ids (may inform rules)"),
                       ("fresh_blind_half", "Fresh set, even ids (BLIND: never used to change rules)")):
        if key in report:
            fresh = report[key]["checks"]
            lines.append(f"\n{title}")
            lines.extend(_row(name, fresh[name]) for name in ("emergency", "urgent_or_emergency", "injection"))
    o = report["output"]
    lines.append(f"\nOutput checks (labelled drafts: {o['harmful_drafts']} harmful, {o['good_drafts']} good)")
    lines.append(f"  harmful drafts held (block): {_pct(o['harmful_held'])}   "
                 f"flagged (any): {_pct(o['harmful_flagged'])}")
    lines.append(f"  safety harms held (block):   {_pct(o['safety_harmful_held'])} of {o['safety_harmful_drafts']}   "
                 f"tone/form-only harms flagged: {_pct(o['style_harmful_flagged'])} of {o['style_harmful_drafts']}")
    lines.append(f"  good drafts held (block):    {_pct(o['good_held'])}   flagged (any): {_pct(o['good_flagged'])}")
    lines.append(f"  {'check':24} {'recall':>7} {'precision':>9}   tp  fp  fn")
    for name, s in o["checks"].items():
        lines.append(_row(name, s))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--meqsum", type=Path, default=DEFAULT_MEQSUM)
    parser.add_argument("--split", choices=["all", "dev", "heldout"], default="all",
                        help="heldout = every 5th case, kept out of rule tuning")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = parser.parse_args(argv)
    for path in (args.corpus / "input.jsonl", args.corpus / "output.jsonl", args.meqsum):
        if not path.exists():
            print(f"error: {path} not found", file=sys.stderr)
            return 66
    report = evaluate(args.corpus, args.meqsum, load_policy(), args.split)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render_table(report))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
