"""What the pipeline reports about each draft, for metrics (drafter.metrics) or tracing; never any PHI.

The pipeline calls an observer after a draft is stored, with the stored row (status, findings, timings per step)
and the model's result (usage, model). An observer reads codes, counts and durations only, never text.
"""

from __future__ import annotations

from typing import Protocol

from drafter.llm.base import LLMResult
from drafter.storage.models import Draft


class PipelineObserver(Protocol):
    """Told about every draft the pipeline stores."""

    def draft_completed(self, draft: Draft, result: LLMResult, *, backend: str) -> None:
        """A draft was stored after the model answered (pending_review, needs_clinician or superseded)."""

    def draft_failed(self, error_code: str, timings: dict[str, float], *, backend: str) -> None:
        """A draft was stored as failed (the model, rendering or a limit failed)."""


class Observers:
    """Tells every observer it holds (metrics and tracing, say) in turn."""

    def __init__(self, *observers: PipelineObserver | None) -> None:
        self.observers = [o for o in observers if o is not None]

    def draft_completed(self, draft: Draft, result: LLMResult, *, backend: str) -> None:
        """Pass the stored draft on to each observer."""
        for observer in self.observers:
            observer.draft_completed(draft, result, backend=backend)

    def draft_failed(self, error_code: str, timings: dict[str, float], *, backend: str) -> None:
        """Pass the failure on to each observer."""
        for observer in self.observers:
            observer.draft_failed(error_code, timings, backend=backend)
