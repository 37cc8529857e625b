"""Everything a running drafter needs, built once per process by the app lifespan or the CLI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from drafter.errors import ConfigError, DrafterError
from drafter.llm.base import LLM
from drafter.llm.breaker import CircuitBreaker
from drafter.llm.factory import open_backend
from drafter.llm.guarded import GuardedLLM
from drafter.llm.limiter import ConcurrencyLimit
from drafter.llm.local import LocalModelServer
from drafter.observer import Observers, PipelineObserver
from drafter.pipeline import Pipeline, PipelineConfig
from drafter.prompting import PromptRenderer, TemplateSet
from drafter.recovery import sweep_at_startup, sweep_forever
from drafter.settings import Settings
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.repository import DraftStore
from drafter.templates.admin import TemplateAdmin
from drafter.templates.gate import EvalGate, UnavailableGate
from drafter.templates.resolver import TemplateResolver
from drafter.templates.store import TemplateStore, files_of_dir
from guardrails import PolicyError, PracticePolicy, load_policy
from guardrails.checks import readability


@dataclass
class Services:
    settings: Settings
    store: DraftStore
    llm: LLM
    pipeline: Pipeline
    local: LocalModelServer | None
    guard: GuardedLLM | None = None  # the breaker and the concurrency cap around `llm`
    templates: TemplateAdmin | None = None

    async def readiness(self) -> dict[str, str]:
        """'ok' or a short reason per dependency; the service is ready when all are 'ok'."""
        checks: dict[str, str] = {}
        try:
            await self.store.ping()
            checks["database"] = "ok"
        except DrafterError as exc:
            checks["database"] = exc.message
        if self.guard is not None and (circuit := self.guard.breaker.describe()) != "ok":
            checks["llm"] = circuit  # failing fast: no point in pinging an endpoint the breaker has given up on
        elif self.local is not None and not self.local.ready:
            checks["llm"] = "the local model server is (re)starting"
        else:
            try:
                await asyncio.wait_for(self.llm.ping(), timeout=6)
                checks["llm"] = "ok"
            except DrafterError as exc:
                checks["llm"] = exc.message
            except TimeoutError:
                checks["llm"] = "the language model endpoint did not answer within 6 s"
        return checks


def pipeline_config(settings: Settings, *, demo_model: bool) -> PipelineConfig:
    """Pipeline settings derived from the service settings."""
    return PipelineConfig(
        max_message_chars=settings.max_message_chars, max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature, demo_model=demo_model,
        practice=PracticePolicy(emergency_number=settings.emergency_number, crisis_line=settings.crisis_line,
                                after_hours_phone=settings.after_hours_phone, practice_name=settings.practice_name),
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def guard_llm(llm: LLM, settings: Settings) -> GuardedLLM:
    """The LLM behind the circuit breaker and the concurrency cap configured in settings."""
    return GuardedLLM(llm, breaker=CircuitBreaker(threshold=settings.llm_breaker_threshold,
                                                  cooldown_s=settings.llm_breaker_cooldown_s),
                      limit=ConcurrencyLimit(max_concurrent=settings.llm_max_concurrency,
                                             max_queue=settings.llm_max_queue,
                                             queue_timeout_s=settings.llm_queue_timeout_s))


def fallback_renderer(settings: Settings) -> PromptRenderer | None:
    """The template-only reply's renderer when the fallback is on (a missing or broken set fails at startup)."""
    if not settings.llm_fallback:
        return None
    return PromptRenderer(TemplateSet.from_dir(settings.prompts_dir / settings.llm_fallback_template_set))


async def _template_resolver(settings: Settings, store: DraftStore) -> TemplateResolver:
    """Template sets live in the database; the files in prompts/ seed version 1 (see TemplateStore.seed)."""
    template_store = TemplateStore(store)
    folder = settings.prompts_dir / settings.template_set
    await template_store.seed(settings.template_set, files_of_dir(folder), origin=f"prompts/{settings.template_set}")
    return TemplateResolver(template_store, default_set=settings.template_set)


def gate_for(settings: Settings, templates: TemplateStore, llm: LLM | None) -> EvalGate:
    """The eval gate publishing runs: the evals' runner and compare, unless DRAFTER_TEMPLATE_GATE=off."""
    if settings.template_gate == "off":
        return UnavailableGate("the gate is turned off (DRAFTER_TEMPLATE_GATE=off)")
    from drafter.templates.eval_gate import EvalRunnerGate  # evals import late: they are not needed to serve

    return EvalRunnerGate(settings, templates, dataset=settings.template_gate_dataset,
                          thresholds=settings.template_gate_thresholds, out_root=settings.template_gate_dir,
                          limit=settings.template_gate_limit, concurrency=settings.template_gate_concurrency, llm=llm)


@asynccontextmanager
async def open_services(settings: Settings, *, llm: LLM | None = None, migrate: bool = True,
                        recover: bool = False, observer: PipelineObserver | None = None) -> AsyncIterator[Services]:
    """Engine, migrations, templates, guardrail policy and LLM backend; closed in reverse on exit.

    `recover` (the server, not one-off CLI commands) marks drafts interrupted by a previous run as failed at
    startup and keeps sweeping for orphaned ones while it runs. `observer` sees each pipeline step (metrics).
    """
    renderer = PromptRenderer(TemplateSet.from_dir(settings.prompts_dir / settings.template_set))
    fallback = fallback_renderer(settings)
    try:
        policy = load_policy()
    except PolicyError as exc:
        raise ConfigError(f"The guardrail policy is invalid: {exc}") from exc
    await asyncio.to_thread(readability.warm)  # the syllable table loads once, not on the first draft
    tracing = None
    if settings.tracing != "off":  # the OpenTelemetry SDK is imported only by processes that trace
        from drafter.tracing import TRACER_NAME, TracingObserver, tracer_provider

        tracing = tracer_provider(settings)
        observer = Observers(observer, TracingObserver(tracing.get_tracer(TRACER_NAME)))
    engine = create_engine(settings.database_url, echo=settings.database_echo,
                           pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow)
    try:
        if migrate:
            await upgrade(engine)
        store = DraftStore(engine)
        if recover:
            await sweep_at_startup(store, settings)
        templates = await _template_resolver(settings, store)
        async with contextlib.AsyncExitStack() as stack:
            if llm is None:
                backend = await stack.enter_async_context(open_backend(settings))
                llm, local, demo = backend.llm, backend.local, backend.demo
            else:
                local, demo = None, False
            guard = guard_llm(llm, settings)
            pipeline = Pipeline(llm=guard, store=store, renderer=renderer, policy=policy,
                                config=pipeline_config(settings, demo_model=demo), fallback=fallback,
                                observer=observer, templates=templates)
            admin = TemplateAdmin(templates.store, templates, pipeline, gate_for(settings, templates.store, guard))
            if recover:
                sweeper = asyncio.create_task(sweep_forever(store, settings), name="interrupted-draft-sweep")
                stack.push_async_callback(_cancel, sweeper)
            yield Services(settings, store, llm, pipeline, local, guard, templates=admin)
    finally:
        await engine.dispose()
        if tracing is not None:
            await asyncio.to_thread(tracing.shutdown)  # flushes the spans still batched
