"""Prometheus metrics for one app: request latency, LLM latency and tokens, steps, findings, drafts, queue depth.

Built per app (create_app) on its own CollectorRegistry: no module-level registry, so two apps in one process
(tests, an embedded worker) never share or collide. Labels carry route templates, methods, status codes, check
names, severities, draft statuses, error codes and the backend label: never message or draft text, names or ids.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from drafter.llm.base import LLMResult
from drafter.storage.models import Draft

# Seconds. HTTP and overhead: 1 ms to 10 s; the model: 50 ms to 2 minutes (a long reply from a slow endpoint).
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)


class Metrics:
    """The app's metrics and the pipeline observer that feeds them (see drafter.observer)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_latency = Histogram(
            "drafter_http_request_duration_seconds", "HTTP requests by method, route template and status, until the "
            "last byte of the response (a streamed draft counts its whole stream).",
            ["method", "route", "status"], buckets=FAST_BUCKETS, registry=r)
        self.llm_latency = Histogram(
            "drafter_llm_request_duration_seconds", "Time waiting for the language model per draft (retries "
            "included), by backend and outcome (ok or the error code).", ["backend", "outcome"],
            buckets=LLM_BUCKETS, registry=r)
        self.llm_tokens = Counter(
            "drafter_llm_tokens", "Tokens the model reported, by backend and kind (prompt or completion).",
            ["backend", "kind"], registry=r)
        self.step_latency = Histogram(
            "drafter_pipeline_step_duration_seconds", "Pipeline steps (input_checks, store_accept, render, llm, "
            "output_checks, ...) per stored draft.", ["step"], buckets=(*FAST_BUCKETS, 30.0, 60.0, 120.0),
            registry=r)
        self.overhead = Histogram(
            "drafter_draft_overhead_seconds", "Everything drafter adds to a draft besides waiting for the model "
            "(timings.overhead_ms), without HTTP.", buckets=FAST_BUCKETS, registry=r)
        self.findings = Counter(
            "drafter_findings", "Guardrail findings on stored drafts, by check and severity.",
            ["check", "severity"], registry=r)
        self.drafts = Counter(
            "drafter_drafts", "Drafts stored by the pipeline, by status (pending_review, needs_clinician, failed, "
            "superseded).", ["status"], registry=r)
        self.queue_depth = Gauge(
            "drafter_queue_depth", "Messages waiting to be drafted, read at each scrape: queue=database counts the "
            "queued drafts (the queue of record), queue=in_process or redis the jobs waiting there.",
            ["queue"], registry=r)

    # -- drafter.observer.PipelineObserver ------------------------------------------------------------------------

    def draft_completed(self, draft: Draft, result: LLMResult, *, backend: str) -> None:
        """Count the stored draft, its findings, tokens and step timings."""
        self.drafts.labels(status=draft.status).inc()
        for finding in draft.findings:
            self.findings.labels(check=finding.check, severity=finding.severity).inc()
        self.llm_tokens.labels(backend=backend, kind="prompt").inc(result.usage.prompt_tokens)
        self.llm_tokens.labels(backend=backend, kind="completion").inc(result.usage.completion_tokens)
        # A template-only fallback draft is stored like any other, but its model call failed with error_code.
        self._timings(draft.timings or {}, backend=backend, outcome=draft.error_code or "ok")

    def draft_failed(self, error_code: str, timings: dict[str, float], *, backend: str) -> None:
        """Count the failed draft; the model's wait, if it got that far, under its error code."""
        self.drafts.labels(status="failed").inc()
        self._timings(timings, backend=backend, outcome=error_code)

    def _timings(self, timings: dict[str, float], *, backend: str, outcome: str) -> None:
        for key, ms in timings.items():
            if not key.endswith("_ms") or key in ("total_ms", "overhead_ms"):
                continue
            self.step_latency.labels(step=key.removesuffix("_ms")).observe(ms / 1000)
        if "llm_ms" in timings:
            self.llm_latency.labels(backend=backend, outcome=outcome).observe(timings["llm_ms"] / 1000)
        if "overhead_ms" in timings:
            self.overhead.observe(timings["overhead_ms"] / 1000)

    # -- exposition -----------------------------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus' text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
