"""The eval gate wired to the evals (issue 6): `run_eval` on the candidate and on production with the same
dataset and completion cache, then `compare_runs` with the thresholds file. Nothing here re-implements evals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from drafter.llm.base import LLM
from drafter.settings import Settings
from drafter.templates.gate import GateMetric, GateResult
from drafter.templates.refs import TemplateRef
from drafter.templates.resolver import template_set_of
from drafter.templates.store import TemplateStore
from evals.compare import compare_runs, load_thresholds
from evals.runner import RunOptions, RunOutcome, run_eval


@dataclass
class EvalRunnerGate:
    """Runs the configured eval set on both versions and compares them (baseline A = production, B = candidate)."""

    settings: Settings
    store: TemplateStore
    dataset: Path
    thresholds: Path
    out_root: Path
    limit: int | None = None
    concurrency: int = 8
    llm: LLM | None = None  # None: the configured backend, opened per run by the eval runner
    judge: bool | None = None  # None: DRAFTER_EVAL_JUDGE decides
    name: str = "evals"

    async def _run(self, ref: TemplateRef, out: Path) -> RunOutcome:
        row = await self.store.resolve(ref)
        options = RunOptions(dataset=self.dataset, out=out, template_set=f"{row.set_name}@{row.version}",
                             concurrency=self.concurrency, limit=self.limit, judge=self.judge,
                             cache=self.out_root / "cache" / "completions.jsonl", progress=False)
        return await run_eval(self.settings, options, llm=self.llm, template=template_set_of(row))

    async def run(self, *, candidate: TemplateRef, baseline: TemplateRef | None) -> GateResult:
        """Both runs, then the comparison; `regressed` when any threshold rule breaks."""
        if baseline is None:
            return GateResult(status="unavailable", candidate=str(candidate), baseline=None, gate=self.name,
                              dataset=str(self.dataset), summary="There is no production version to compare with.")
        rules = load_thresholds(self.thresholds)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        folder = self.out_root / re.sub(r"[^a-z0-9_@-]", "_", f"{candidate}-vs-{baseline}-{stamp}")
        base = await self._run(baseline, folder / "baseline")
        cand = await self._run(candidate, folder / "candidate")
        comparison = compare_runs(base.meta, base.records, cand.meta, cand.records, rules=rules)
        metrics = tuple(GateMetric(name=t["rule"], baseline=t["a"], candidate=t["b"], regressed=not t["ok"])
                        for t in comparison["thresholds"])
        broken = [m.name for m in metrics if m.regressed]
        rate = comparison["pass_rate"]
        summary = (f"{comparison['paired_cases']} paired cases; pass rate {_pct(rate['a'])} -> {_pct(rate['b'])}; "
                   + (f"regressed: {', '.join(broken)}." if broken else "no threshold broken."))
        return GateResult(
            status="regressed" if comparison["verdict"] == "regressed" else "passed", candidate=str(candidate),
            baseline=str(baseline), summary=summary, gate=self.name, dataset=str(self.dataset), metrics=metrics,
            details={"runs": {"baseline": base.meta.get("run_id"), "candidate": cand.meta.get("run_id")},
                     "out_dir": str(folder), "paired_cases": comparison["paired_cases"],
                     "mcnemar": comparison["mcnemar"], "flipped": comparison["flipped"][:25],
                     "deltas": [d for d in comparison["deltas"] if d["delta"] not in (None, 0)][:40]})


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
