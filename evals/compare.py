"""`drafter eval compare RUN_A RUN_B`: paired deltas, McNemar on pass/fail, bootstrap intervals, threshold gate.

Cases are paired by id, so only cases present in both runs count. A run is a run folder or a stored run id.
Thresholds (evals/thresholds.yaml) say how much worse B may be than A; any broken rule makes the verdict
"regressed" and the command exit non-zero.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from drafter.errors import InputError
from evals.judge import CRITERIA
from evals.metrics import summarize

Record = Mapping[str, Any]
BOOTSTRAP_SAMPLES = 2000
RULE_KINDS = ("max_drop", "max_increase", "max_increase_ratio", "min", "max")

# (metric path, kind, True when higher is better / False when lower is better / None when neither)
COMPARED: tuple[tuple[str, str, bool | None], ...] = (
    ("pass_rate", "rate", True),
    ("urgency.emergency.recall", "rate", True),
    ("urgency.flagged.recall", "rate", True),
    ("urgency.flagged.precision", "rate", True),
    ("acknowledgement_rate", "rate", True),
    ("partnership_rate", "rate", True),
    ("reading_grade.mean", "value", False),
    ("word_count.mean", "value", None),
    ("latency_ms.p50", "value", False),
    ("latency_ms.p95", "value", False),
    ("judge.means.overall", "value", True),
)


def lookup(metrics: Mapping[str, Any], path: str) -> float | None:
    """A metric by dotted path (e.g. urgency.flagged.recall, expectations.promise.pass_rate); None when absent."""
    value: Any = metrics
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def mcnemar_exact(pass_to_fail: int, fail_to_pass: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against p = 0.5."""
    n = pass_to_fail + fail_to_pass
    if n == 0:
        return 1.0
    k = min(pass_to_fail, fail_to_pass)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / float(2**n)
    return min(1.0, 2.0 * tail)


def bootstrap_delta(a: Sequence[float], b: Sequence[float], *, samples: int = BOOTSTRAP_SAMPLES,
                    seed: int = 0) -> dict[str, float]:
    """Paired bootstrap of mean(b - a): the observed delta and a 95% percentile interval."""
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    rng = random.Random(seed)  # noqa: S311 - resampling, not security
    n = len(diffs)
    means: list[float] = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    return {"delta": round(sum(diffs) / n, 4), "low": round(means[int(0.025 * samples)], 4),
            "high": round(means[int(0.975 * samples) - 1], 4), "n": n}


def load_thresholds(path: Path) -> list[dict[str, Any]]:
    """The rules of a thresholds file; a bad rule is an error naming the file and the rule."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise InputError(f"No thresholds file at {path}.") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}") from None
    rules = raw.get("rules") if isinstance(raw, dict) else None
    if not isinstance(rules, list):
        raise InputError(f"{path}: expected a top-level 'rules:' list (see evals/thresholds.yaml).")
    for i, rule in enumerate(rules, 1):
        if not isinstance(rule, dict) or not isinstance(rule.get("metric"), str):
            raise InputError(f"{path}: rule {i} needs a 'metric' (a dotted metric path such as pass_rate).")
        kinds = [k for k in RULE_KINDS if k in rule]
        unknown = set(rule) - {"metric", "note", *RULE_KINDS}
        if len(kinds) != 1 or unknown or not isinstance(rule[kinds[0]], int | float):
            raise InputError(f"{path}: rule {i} ({rule.get('metric')}) needs exactly one numeric limit of "
                             f"{', '.join(RULE_KINDS)}" + (f"; unknown keys {sorted(unknown)}" if unknown else ""))
    return rules


def _check_rule(rule: Mapping[str, Any], a: float | None, b: float | None) -> dict[str, Any]:
    kind = next(k for k in RULE_KINDS if k in rule)
    limit = float(rule[kind])
    label = f"{rule['metric']} {kind} {limit:g}"
    if b is None or (a is None and kind not in ("min", "max")):
        return {"rule": label, "a": a, "b": b, "ok": True, "skipped": "metric missing in a run"}
    ok = {
        "max_drop": lambda: a is not None and b >= a - limit - 1e-12,
        "max_increase": lambda: a is not None and b <= a + limit + 1e-12,
        "max_increase_ratio": lambda: a is not None and b <= a * limit + 1e-12,
        "min": lambda: b >= limit,
        "max": lambda: b <= limit,
    }[kind]()
    return {"rule": label, "a": a, "b": b, "ok": bool(ok)}


def _scores(records: Sequence[Record], criterion: str) -> dict[str, float]:
    return {r["id"]: float(r["judge"]["scores"][criterion]) for r in records
            if r.get("judge") and "scores" in r["judge"]}


def compare_runs(a_meta: Mapping[str, Any], a_records: Sequence[Record], b_meta: Mapping[str, Any],
                 b_records: Sequence[Record], *, rules: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Everything `eval compare` prints and writes."""
    a_by, b_by = {r["id"]: r for r in a_records}, {r["id"]: r for r in b_records}
    ids = [i for i in a_by if i in b_by]
    if not ids:
        raise InputError("The two runs share no case ids; compare runs of the same dataset.")
    pa, pb = [a_by[i] for i in ids], [b_by[i] for i in ids]
    ma, mb = summarize(pa, prices={}, local=True), summarize(pb, prices={}, local=True)
    pass_to_fail = sum(a_by[i]["passed"] and not b_by[i]["passed"] for i in ids)
    fail_to_pass = sum(not a_by[i]["passed"] and b_by[i]["passed"] for i in ids)
    deltas = []
    paths = [*COMPARED, *((f"expectations.{n}.pass_rate", "rate", True) for n in sorted(mb["expectations"]))]
    for path, kind, higher in paths:
        va, vb = lookup(ma, path), lookup(mb, path)
        delta = None if va is None or vb is None else round(vb - va, 4)
        better = None if delta is None or higher is None or delta == 0 else (delta > 0) == higher
        deltas.append({"metric": path, "kind": kind, "a": va, "b": vb, "delta": delta, "better": better})
    by_category = {}
    for name in sorted(set(ma["by_category"]) | set(mb["by_category"])):
        ra = ma["by_category"].get(name, {}).get("pass_rate")
        rb = mb["by_category"].get(name, {}).get("pass_rate")
        by_category[name] = {"a": ra, "b": rb, "delta": None if ra is None or rb is None else round(rb - ra, 4)}
    bootstrap = {"pass_rate": bootstrap_delta([float(r["passed"]) for r in pa], [float(r["passed"]) for r in pb])}
    for criterion in CRITERIA:
        sa, sb = _scores(pa, criterion), _scores(pb, criterion)
        both = [i for i in ids if i in sa and i in sb]
        if both:
            bootstrap[f"judge.{criterion}"] = bootstrap_delta([sa[i] for i in both], [sb[i] for i in both])
    flipped = [{"id": i, "category": a_by[i]["category"],
                "direction": "pass→fail" if a_by[i]["passed"] else "fail→pass",
                "now_failing": [f"{e['kind']} {e['name']}" for e in b_by[i]["expectations"] if not e["passed"]]}
               for i in ids if a_by[i]["passed"] != b_by[i]["passed"]]
    checked = [_check_rule(rule, lookup(ma, rule["metric"]), lookup(mb, rule["metric"])) for rule in rules]
    return {
        "a": {k: str(a_meta.get(k)) for k in ("run_id", "template_set", "model", "judge_model")},
        "b": {k: str(b_meta.get(k)) for k in ("run_id", "template_set", "model", "judge_model")},
        "paired_cases": len(ids), "only_in_a": len(a_by) - len(ids), "only_in_b": len(b_by) - len(ids),
        "pass_rate": {"a": ma["pass_rate"], "b": mb["pass_rate"]},
        "mcnemar": {"pass_to_fail": pass_to_fail, "fail_to_pass": fail_to_pass,
                    "p_value": round(mcnemar_exact(pass_to_fail, fail_to_pass), 6)},
        "deltas": deltas, "by_category": by_category, "bootstrap": bootstrap, "flipped": flipped,
        "thresholds": checked, "verdict": "regressed" if any(not t["ok"] for t in checked) else "ok",
    }


def compare_text(c: Mapping[str, Any]) -> str:
    """The comparison as a terminal summary."""
    mc = c["mcnemar"]
    lines = [f"A {c['a']['run_id']} ({c['a']['template_set']}, {c['a']['model']})",
             f"B {c['b']['run_id']} ({c['b']['template_set']}, {c['b']['model']})",
             f"{c['paired_cases']} paired cases ({c['only_in_a']} only in A, {c['only_in_b']} only in B)",
             f"McNemar exact: {mc['pass_to_fail']} pass→fail, {mc['fail_to_pass']} fail→pass, p = {mc['p_value']:.4g}",
             "", f"{'metric':44} {'A':>10} {'B':>10} {'B-A':>10}"]
    for d in c["deltas"]:
        if d["a"] is None and d["b"] is None:
            continue
        mark = "" if d["better"] is None else ("  better" if d["better"] else "  WORSE")
        lines.append(f"{d['metric']:44} {_num(d['a']):>10} {_num(d['b']):>10} {_num(d['delta'], sign=True):>10}{mark}")
    for name, v in c["bootstrap"].items():
        lines.append(f"bootstrap 95% {name}: {v['delta']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}] (n={v['n']})")
    if c["flipped"]:
        lines.append("")
        lines.append(f"flipped cases ({len(c['flipped'])}):")
        lines.extend(f"  {f['direction']}  {f['id']} ({f['category']})"
                     + (f": {', '.join(f['now_failing'])}" if f["now_failing"] else "") for f in c["flipped"][:50])
    if c["thresholds"]:
        lines.append("")
        for t in c["thresholds"]:
            state = "ok" if t["ok"] else "REGRESSED"
            lines.append(f"threshold {t['rule']}: A {_num(t['a'])} B {_num(t['b'])} -> {state}"
                         + (f" ({t['skipped']})" if t.get("skipped") else ""))
    lines.append(f"verdict: {c['verdict']}")
    return "\n".join(lines)


def _num(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.4g}" if sign else f"{value:.4g}"
