"""`drafter eval run`: every case through drafter.pipeline, with bounded concurrency, resume and a completion cache.

The run folder holds everything needed to resume or re-report a run:

    run.json                 what was run (dataset digest, template set, model, judge) and the run id
    results.jsonl            one record per finished case, appended as cases finish (resume skips these)
    cache/completions.jsonl  completions by hash(prompt, model, parameters)
    pipeline.db              the pipeline's own message/draft rows: eval drafts never reach a clinician's inbox
    report.html, report.json, junit.xml

The summary and the per-case records also go to the main database (eval_runs, eval_cases).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from drafter.classify import LANGUAGE_NAMES, categorize
from drafter.errors import ConfigError, DatasetError, DrafterError, InputError
from drafter.heap import freeze_startup_heap
from drafter.llm.base import LLM
from drafter.llm.factory import DEFAULT_REMOTE_MODEL, open_backend, retry_policy
from drafter.llm.openai_backend import OpenAIBackend
from drafter.pipeline import Pipeline
from drafter.prompting import PromptRenderer, TemplateSet
from drafter.services import pipeline_config
from drafter.settings import Settings
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.models import Draft, utcnow
from drafter.storage.repository import DraftStore
from evals import markers
from evals.cache import CachingLLM, CompletionCache, last_hit, open_for_append
from evals.dataset import EvalCase, dataset_digest, load_dataset
from evals.expectations import evaluate
from evals.judge import Judge
from evals.memory_store import MemoryDraftStore
from evals.metrics import load_prices, summarize
from evals.report import write_reports
from evals.store import EvalStore
from guardrails import PolicyError, Urgency, load_policy
from guardrails.checks import readability

RUN_FILE, RESULTS_FILE, CACHE_FILE, PIPELINE_DB = "run.json", "results.jsonl", "cache/completions.jsonl", "pipeline.db"
_BY_RANK = {u.rank: u.value for u in Urgency}
# These must match for a run folder to be resumed; anything else means a different experiment.
_RESUME_KEYS = ("dataset_sha256", "template_set", "model", "judge_model", "limit")


@dataclass(frozen=True, slots=True)
class RunOptions:
    dataset: Path
    out: Path
    template_set: str | None = None  # NAME or NAME@VERSION; default: the configured set
    model: str | None = None
    concurrency: int = 8
    limit: int | None = None
    judge: bool | None = None  # None: DRAFTER_EVAL_JUDGE decides
    cache: Path | None = None  # default: <out>/cache/completions.jsonl
    progress: bool = True
    store: bool = True  # save the run to the main database
    pipeline_db: bool = False  # also keep the pipeline's own rows in <out>/pipeline.db (slower; for inspection)


@dataclass
class RunOutcome:
    meta: dict[str, Any]
    metrics: dict[str, Any]
    records: list[dict[str, Any]] = field(repr=False)
    new_cases: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # setup, drafting, reports, store (seconds)


def load_template_set(settings: Settings, spec: str | None) -> TemplateSet:
    """The template set NAME[@VERSION] from the prompts folder; a version that is not there is an input error."""
    name, _, version = (spec or settings.template_set).partition("@")
    if not name or "/" in name or name.startswith("."):
        raise InputError(f"--template-set must be NAME or NAME@VERSION, not {spec!r}.")
    template_set = TemplateSet.from_dir(settings.prompts_dir / name)
    if version and version != template_set.version:
        raise InputError(f"Template set {name} in {settings.prompts_dir} is at version {template_set.version}, "
                         f"not {version}. Run with --template-set {name}@{template_set.version} (or without @).")
    return template_set


def judge_enabled(settings: Settings, flag: bool | None) -> bool:
    """On when asked; otherwise 'auto' turns it on unless the judge would be the embedded demo model."""
    if flag is not None:
        return flag
    if settings.eval_judge != "auto":
        return settings.eval_judge == "on"
    return settings.eval_judge_base_url is not None or not settings.uses_local_model


def _judge_backend(settings: Settings) -> OpenAIBackend:
    base_url = settings.eval_judge_base_url or settings.llm_base_url
    if base_url is None:
        raise ConfigError("The LLM judge needs an endpoint: set DRAFTER_EVAL_JUDGE_BASE_URL (the embedded demo model "
                          "is too small to judge), or run with --no-judge.")
    key = settings.eval_judge_api_key or settings.llm_api_key
    model = settings.eval_judge_model or settings.llm_model or DEFAULT_REMOTE_MODEL
    return OpenAIBackend(base_url=base_url, api_key=key.get_secret_value() if key else None, model=model,
                         prompt_mode="chat", timeout_s=settings.llm_timeout_s, retry=retry_policy(settings))


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """Finished case records by case id; a line cut short by an interrupted run is ignored (the case reruns)."""
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "id" in row:
            records[row["id"]] = row
    return records


def read_meta(out: Path) -> dict[str, Any]:
    """run.json of a run folder."""
    path = out / RUN_FILE
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{out} is not an eval run folder (no {RUN_FILE}).") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path} is not valid JSON ({exc.msg}).") from None
    return meta


def _start_meta(options: RunOptions, meta: dict[str, Any]) -> dict[str, Any]:
    """Reuse the run id of an interrupted run of the same experiment; refuse to mix two experiments."""
    path = options.out / RUN_FILE
    if path.exists():
        previous = read_meta(options.out)
        changed = [k for k in _RESUME_KEYS if previous.get(k) != meta.get(k)]
        if changed:
            raise DatasetError(f"{options.out} holds a run with a different {', '.join(changed)}; "
                               "use a new --out folder (or delete this one) to start another run.")
        return previous | {k: meta[k] for k in ("concurrency",)}
    return meta | {"run_id": str(uuid.uuid4()), "created_at": utcnow().isoformat()}


def _record(case: EvalCase, draft: Draft | None, *, error: str | None, latency_ms: float, cached: bool,
            settings: Settings) -> dict[str, Any]:
    text = draft.text if draft is not None and draft.text is not None and error is None else None
    findings = [{"check": f.check, "code": f.code, "severity": f.severity, "target": f.target}
                for f in (draft.findings if draft is not None else [])]
    results = evaluate(case.expectations, draft=text, findings=findings,
                       emergency_number=settings.emergency_number, crisis_line=settings.crisis_line)
    return {
        "id": case.id, "source": case.source, "message": case.text, "category": case.category.value,
        "language": case.language,
        "tone": case.tone, "injection": case.injection, "phi": case.phi,
        "urgency_expected": case.urgency.value,
        "urgency_predicted": _BY_RANK.get(draft.urgency_rank) if draft is not None else None,
        "category_predicted": categorize(case.text).value,
        "status": draft.status if draft is not None else "rejected_input",
        "error": error, "draft": text, "findings": findings,
        "expectations": [r.as_dict() for r in results], "passed": bool(results) and all(r.passed for r in results),
        "latency_ms": round(latency_ms, 3), "llm_ms": (draft.timings or {}).get("llm_ms") if draft else None,
        "cached": cached, "model": draft.model if draft is not None else None,
        "prompt_tokens": draft.prompt_tokens if draft is not None else 0,
        "completion_tokens": draft.completion_tokens if draft is not None else 0,
        "reading_grade": (round(readability.grade(text), 2) if text and case.language == "en" else None),
        "word_count": markers.word_count(text) if text else 0,
        "markers": {"acknowledgement": bool(text) and markers.acknowledges(text or ""),
                    "partnership": bool(text) and markers.partners(text or "")},
        "judge": None,
    }


class _ResultLog:
    """results.jsonl, appended one finished case at a time so an interrupted run loses at most the cases in flight."""

    def __init__(self, path: Path) -> None:
        self._handle: IO[str] = open_for_append(path)

    def write(self, record: Mapping[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


@asynccontextmanager
async def _drafting_llm(settings: Settings, llm: LLM | None) -> AsyncIterator[tuple[LLM, str, bool]]:
    """(llm, model label, demo) — the injected LLM, or the configured backend opened for the run."""
    if llm is not None:
        yield llm, llm.name, False
        return
    async with open_backend(settings) as backend:
        model = getattr(backend.llm, "model", None) or backend.llm.name
        yield backend.llm, backend.llm.name if backend.demo else str(model), backend.demo


async def run_eval(settings: Settings, options: RunOptions, *, llm: LLM | None = None,
                   judge_llm: LLM | None = None, template: TemplateSet | None = None) -> RunOutcome:
    """Run (or resume) an eval; write the reports; store the run in the main database.

    `template` runs a set that is not in the prompts folder (the template gate passes database versions).
    """
    if options.concurrency < 1:
        raise InputError("--concurrency must be at least 1.")
    if options.model:
        settings = settings.model_copy(update={"llm_model": options.model})
    cases = load_dataset(options.dataset)
    if options.limit is not None:
        cases = cases[:options.limit]
    template_set = template if template is not None else load_template_set(settings, options.template_set)
    try:
        policy = load_policy()
    except PolicyError as exc:
        raise ConfigError(f"The guardrail policy is invalid: {exc}") from exc
    prices = load_prices(settings.eval_prices_file)
    use_judge = judge_enabled(settings, options.judge)
    options.out.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(readability.warm)

    started = time.perf_counter()
    cache = CompletionCache(options.cache or options.out / CACHE_FILE)
    async with contextlib.AsyncExitStack() as stack:
        drafting, model, demo = await stack.enter_async_context(_drafting_llm(settings, llm))
        judge: Judge | None = None
        if use_judge:
            if judge_llm is None:
                judge_llm = _judge_backend(settings)
                stack.push_async_callback(judge_llm.aclose)
            judge_model = getattr(judge_llm, "model", None) or judge_llm.name
            judge = Judge(CachingLLM(judge_llm, cache, model=f"judge:{judge_model}"),
                          PromptRenderer(TemplateSet.from_dir(settings.prompts_dir / "judge")), model=str(judge_model),
                          emergency_number=settings.emergency_number, crisis_line=settings.crisis_line)
        meta = _start_meta(options, {
            "dataset": str(options.dataset), "dataset_sha256": dataset_digest(options.dataset),
            "template_set": template_set.label, "model": model, "backend": drafting.name,
            "judge_model": judge.model if judge else None, "limit": options.limit,
            "concurrency": options.concurrency, "demo_model": demo, "out_dir": str(options.out.resolve()),
        })
        (options.out / RUN_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

        store: DraftStore = MemoryDraftStore()
        if options.pipeline_db:
            engine = create_engine(f"sqlite:///{options.out / PIPELINE_DB}")
            stack.push_async_callback(engine.dispose)
            await upgrade(engine)
            store = DraftStore(engine)
        pipeline = Pipeline(llm=CachingLLM(drafting, cache, model=model), store=store,
                            renderer=PromptRenderer(template_set), policy=policy,
                            config=pipeline_config(settings, demo_model=demo))
        done = read_results(options.out / RESULTS_FILE)
        pending = [c for c in cases if c.id not in done]
        log = _ResultLog(options.out / RESULTS_FILE)
        stack.callback(log.close)
        stack.callback(cache.close)
        bar = tqdm(total=len(cases), initial=len(cases) - len(pending), unit="case", desc="eval",
                   disable=not options.progress, file=sys.stderr, dynamic_ncols=True)
        stack.callback(bar.close)
        semaphore = asyncio.Semaphore(options.concurrency)
        freeze_startup_heap()
        drafting_started = time.perf_counter()

        async def one(case: EvalCase) -> None:
            async with semaphore:
                await _run_case(case, pipeline, store, judge, settings, log)
                bar.update(1)

        await asyncio.gather(*(one(c) for c in pending))
        drafting_s = time.perf_counter() - drafting_started

    records_by_id = read_results(options.out / RESULTS_FILE)
    records = [records_by_id[c.id] for c in cases if c.id in records_by_id]
    metrics = summarize(records, prices=prices, local=demo)
    write_reports(options.out, meta, metrics, records)
    reported = time.perf_counter()
    status = "complete" if metrics["failed"] == 0 else "partial"
    if options.store:
        main_engine = create_engine(settings.database_url, echo=settings.database_echo)
        try:
            await upgrade(main_engine)
            await EvalStore(main_engine).save(meta, metrics, records, status=status)
            # Eval runs are part of the audit trail (who measured which template and model, with what result).
            await DraftStore(main_engine).record_event(
                actor="drafter eval", action="eval.run", entity_type="eval_run", entity_id=str(meta["run_id"]),
                details={"status": status, "cases": metrics["cases"], "passed": metrics["passed"],
                         "template_set": meta["template_set"], "model": meta["model"]})
        finally:
            await main_engine.dispose()
    finished = time.perf_counter()
    phases = {"setup": drafting_started - started, "drafting": drafting_s,
              "reports": reported - drafting_started - drafting_s, "store": finished - reported}
    return RunOutcome(meta | {"status": status}, metrics, records, new_cases=len(pending), cache_hits=cache.hits,
                      cache_misses=cache.misses, seconds=finished - started, phases=phases)


async def _run_case(case: EvalCase, pipeline: Pipeline, store: DraftStore, judge: Judge | None, settings: Settings,
                    log: _ResultLog) -> None:
    started = time.perf_counter()
    last_hit.set(False)
    draft: Draft | None = None
    error: str | None = None
    try:
        draft = await pipeline.draft(case.request(), source="eval", actor="eval")
    except DrafterError as exc:
        error = exc.code
        draft_id = exc.details.get("draft_id")
        if draft_id:  # the pipeline stored the failed draft with its input findings and triage
            draft = await store.get(str(draft_id))
    latency_ms = (time.perf_counter() - started) * 1000
    record = _record(case, draft, error=error, latency_ms=latency_ms, cached=last_hit.get(), settings=settings)
    if judge is not None and record["draft"] is not None:
        record["judge"] = await judge.score(message=case.text, draft=record["draft"],
                                            urgency=record["urgency_predicted"] or case.urgency.value,
                                            language_name=LANGUAGE_NAMES[case.language])
    log.write(record)
    if draft is not None and isinstance(store, MemoryDraftStore):
        store.discard(draft.id)


def summary_line(outcome: RunOutcome) -> str:
    """One line for the terminal: cases, pass rate, cache use, time."""
    m = outcome.metrics
    rate = f"{m['pass_rate']:.1%}" if m["pass_rate"] is not None else "n/a"
    return (f"run {outcome.meta['run_id']} · {m['cases']} cases · {m['passed']} passed ({rate}) · "
            f"{m['failed']} failed to draft · {outcome.new_cases} drafted now, cache {outcome.cache_hits} hits / "
            f"{outcome.cache_misses} misses · {outcome.seconds:.1f} s")


def records_in_order(records: Mapping[str, dict[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    """Records sorted as the dataset lists them."""
    return [records[i] for i in order if i in records]
