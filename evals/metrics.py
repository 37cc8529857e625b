"""Metrics over per-case results, overall and per category and language.

Every figure is computed from the records in results.jsonl, so a report can be rebuilt (or two runs compared)
without calling a model again.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from drafter.errors import ConfigError
from evals.judge import CRITERIA

Record = Mapping[str, Any]
LEVELS = ("emergency", "urgent", "routine")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of the values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, min, p50, p90, p95, max."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": round(sum(values) / len(values), 3), "min": min(values),
            "p50": percentile(values, 50), "p90": percentile(values, 90), "p95": percentile(values, 95),
            "max": max(values)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def load_prices(path: Path) -> dict[str, dict[str, float]]:
    """model -> {"input": USD per 1M prompt tokens, "output": USD per 1M completion tokens}."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"No price table at {path}; set DRAFTER_EVAL_PRICES_FILE or restore evals/prices.yaml.") \
            from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    models = raw.get("models") if isinstance(raw, dict) else None
    if not isinstance(models, dict):
        raise ConfigError(f"{path}: expected a top-level 'models:' mapping of model -> {{input, output}}.")
    table: dict[str, dict[str, float]] = {}
    for model, price in models.items():
        if not (isinstance(price, dict) and all(isinstance(price.get(k), int | float) for k in ("input", "output"))):
            raise ConfigError(f"{path}: model {model!r} needs numeric 'input' and 'output' prices per 1M tokens.")
        table[str(model)] = {"input": float(price["input"]), "output": float(price["output"])}
    return table


def _cost(records: Sequence[Record], prices: Mapping[str, Mapping[str, float]], local: bool) -> dict[str, Any]:
    if local:
        return {"usd": 0.0, "unpriced_models": []}
    usd, unpriced = 0.0, set()
    for r in records:
        model = r.get("model")
        if not model or not (r["prompt_tokens"] or r["completion_tokens"]):
            continue
        price = prices.get(model)
        if price is None:
            unpriced.add(model)
            continue
        usd += (r["prompt_tokens"] * price["input"] + r["completion_tokens"] * price["output"]) / 1_000_000
    return {"usd": None if unpriced else round(usd, 6), "unpriced_models": sorted(unpriced)}


def _urgency(records: Sequence[Record]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level in LEVELS:
        tp = sum(r["urgency_expected"] == level and r["urgency_predicted"] == level for r in records)
        support = sum(r["urgency_expected"] == level for r in records)
        predicted = sum(r["urgency_predicted"] == level for r in records)
        out[level] = {"support": support, "predicted": predicted, "recall": _rate(tp, support),
                      "precision": _rate(tp, predicted)}
    # Flagged at all (emergency or urgent) versus routine: the figure that matters most for the inbox.
    flagged = [r for r in records if r["urgency_expected"] != "routine"]
    hits = sum(r["urgency_predicted"] in ("emergency", "urgent") for r in flagged)
    raised = sum(r["urgency_predicted"] in ("emergency", "urgent") for r in records)
    true_raised = sum(r["urgency_predicted"] in ("emergency", "urgent") and r["urgency_expected"] != "routine"
                      for r in records)
    out["flagged"] = {"support": len(flagged), "predicted": raised, "recall": _rate(hits, len(flagged)),
                      "precision": _rate(true_raised, raised)}
    return out


def _core(records: Sequence[Record]) -> dict[str, Any]:
    drafted = [r for r in records if r["draft"] is not None]
    fresh = [r for r in drafted if not r["cached"]]
    latencies = [r["latency_ms"] for r in (fresh or drafted)]
    grades = [r["reading_grade"] for r in drafted if r.get("reading_grade") is not None]
    words = [r["word_count"] for r in drafted]
    passed = sum(r["passed"] for r in records)
    return {
        "cases": len(records), "drafted": len(drafted), "failed": len(records) - len(drafted),
        "cached": sum(r["cached"] for r in records), "passed": passed, "pass_rate": _rate(passed, len(records)),
        "acknowledgement_rate": _rate(sum(r["markers"]["acknowledgement"] for r in drafted), len(drafted)),
        "partnership_rate": _rate(sum(r["markers"]["partnership"] for r in drafted), len(drafted)),
        "reading_grade": distribution(grades), "word_count": distribution(words),
        # Latency of cases that reached the model; a fully cached run reports its cache lookups instead.
        "latency_ms": distribution(latencies) | {"source": "model calls" if fresh else "cache"},
        "tokens": {"prompt": sum(r["prompt_tokens"] for r in records),
                   "completion": sum(r["completion_tokens"] for r in records)},
        "judge": _judge(records),
    }


def _judge(records: Sequence[Record]) -> dict[str, Any] | None:
    judged = [r["judge"] for r in records if r.get("judge")]
    if not judged:
        return None
    scored = [j["scores"] for j in judged if "scores" in j]
    means = {c: round(sum(s[c] for s in scored) / len(scored), 3) if scored else None for c in CRITERIA}
    return {"model": judged[0]["model"], "scored": len(scored), "failures": len(judged) - len(scored), "means": means}


def _grouped(records: Sequence[Record], key: str) -> dict[str, Any]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[str(r[key])].append(r)
    return {name: _core(group) | {"urgency": _urgency(group)} for name, group in sorted(groups.items())}


def _counts(items: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(items).items()))


def summarize(records: Sequence[Record], *, prices: Mapping[str, Mapping[str, float]], local: bool) -> dict[str, Any]:
    """All metrics of a run: overall, then by category and by language."""
    expectation_checked: Counter[str] = Counter()
    expectation_passed: Counter[str] = Counter()
    for r in records:
        for e in r["expectations"]:
            label = e["name"] if e["kind"] in ("must", "must_not") else e["kind"]
            expectation_checked[label] += 1
            expectation_passed[label] += e["passed"]
    drafted = [r for r in records if r["draft"] is not None]
    return {
        **_core(records),
        "cost": _cost(records, prices, local),
        "urgency": _urgency(records),
        "expectations": {name: {"checked": n, "passed": expectation_passed[name],
                                "pass_rate": _rate(expectation_passed[name], n)}
                         for name, n in sorted(expectation_checked.items())},
        # Drafts with at least one finding of each check (a draft counts once per check).
        "findings_by_check": _counts(c for r in drafted for c in {f["check"] for f in r["findings"]
                                                                  if f["target"] == "draft"}),
        "findings_by_severity": _counts(f["severity"] for r in drafted for f in r["findings"]
                                        if f["target"] == "draft"),
        "errors": _counts(r["error"] for r in records if r.get("error")),
        "by_category": _grouped(records, "category"),
        "by_language": _grouped(records, "language"),
    }
