"""Optional OpenTelemetry spans per draft and per pipeline step (DRAFTER_TRACING=otlp or console; off by default).

The spans are built from the timings the pipeline already records (one clock, a lap per step) once the draft is
stored: a `drafter.draft` span with one child per step, laid end to end as the steps ran. Tracing therefore adds
nothing to the draft path when it is off, and cannot change what the pipeline does when it is on. Attributes are
ids, codes, counts and durations, never message or draft text (the same rule as the metrics).

The tracer provider belongs to the services that built it (no global provider is set): OTLP goes over HTTP to
the standard OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (default http://localhost:4318).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Mapping

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.util.types import AttributeValue

from drafter import __version__
from drafter.llm.base import LLMResult
from drafter.settings import Settings
from drafter.storage.models import Draft

TRACER_NAME = "drafter.pipeline"
_NOT_STEPS = frozenset({"total_ms", "overhead_ms"})


def tracer_provider(settings: Settings) -> TracerProvider:
    """The provider DRAFTER_TRACING asks for (console or otlp)."""
    provider = TracerProvider(resource=Resource.create({"service.name": settings.tracing_service_name,
                                                        "service.version": __version__}))
    if settings.tracing == "console":  # spans as JSON on stderr, so a CLI's own output on stdout stays clean
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # only when used

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


class TracingObserver:
    """A pipeline observer (drafter.observer) that turns each stored draft's timings into spans."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def draft_completed(self, draft: Draft, result: LLMResult, *, backend: str) -> None:
        """One span for the draft, one child per step; status, urgency, tokens and findings by severity."""
        severities = Counter(f.severity for f in draft.findings)
        attributes: dict[str, AttributeValue] = {
            "drafter.draft_id": draft.id, "drafter.status": draft.status, "drafter.urgency_rank": draft.urgency_rank,
            "drafter.template_set": draft.template_set or "", "drafter.backend": backend,
            "gen_ai.response.model": result.model, "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": result.usage.completion_tokens,
            "drafter.findings": len(draft.findings),
            **{f"drafter.findings.{severity}": n for severity, n in sorted(severities.items())},
        }
        if draft.error_code:  # a template-only fallback draft: stored, but the model failed
            attributes["drafter.error_code"] = draft.error_code
        self._record(draft.timings or {}, attributes, error_code=None)

    def draft_failed(self, error_code: str, timings: dict[str, float], *, backend: str) -> None:
        """The same spans for a failed draft, the root marked as an error with its code."""
        self._record(timings, {"drafter.status": "failed", "drafter.backend": backend,
                               "drafter.error_code": error_code}, error_code=error_code)

    def _record(self, timings: Mapping[str, float], attributes: dict[str, AttributeValue], *,
                error_code: str | None) -> None:
        end = time.time_ns()
        start = end - int(timings.get("total_ms", 0.0) * 1_000_000)
        root = self.tracer.start_span("drafter.draft", start_time=start, attributes=attributes)
        parent = set_span_in_context(root, Context())
        steps = [(key.removesuffix("_ms"), ms) for key, ms in timings.items()
                 if key.endswith("_ms") and key not in _NOT_STEPS]
        at = start
        for i, (step, ms) in enumerate(steps):
            finish = min(end, at + int(ms * 1_000_000))
            child = self.tracer.start_span(f"drafter.{step}", context=parent, start_time=at,
                                           attributes={"drafter.step": step})
            if error_code is not None and i == len(steps) - 1:  # the step the draft failed in
                child.set_status(Status(StatusCode.ERROR, error_code))
            child.end(end_time=finish)
            at = finish
        if error_code is not None:
            root.set_status(Status(StatusCode.ERROR, error_code))
        # What follows the last step (storing the result) is the rest of the root span.
        root.end(end_time=end)
