"""The pipeline's message and draft rows for an eval run, kept in memory instead of a database.

Eval drafts must never reach a clinician's inbox, and the run's own records (results.jsonl, eval_cases)
already keep everything a report needs, so the pipeline's rows only live until the case is recorded.
Measured: writing them to SQLite cost about 90 aiosqlite round trips per case and dominated the run time
(bench/evals.py); `drafter eval run --pipeline-db` still writes them to <out>/pipeline.db for inspection.
"""

from __future__ import annotations

from collections.abc import Sequence

from drafter.domain import DraftRequest, DraftStatus
from drafter.errors import ConflictError, NotFoundError
from drafter.storage.models import Draft, Message, new_id, utcnow
from drafter.storage.repository import DraftStore, FhirOrigin, _finding_rows
from guardrails import Finding, Urgency


class MemoryDraftStore(DraftStore):
    """The subset of DraftStore an eval pipeline (no template resolver) uses: accept, complete, fail, get."""

    def __init__(self) -> None:  # no engine: nothing here touches a database
        self._drafts: dict[str, Draft] = {}

    async def ping(self) -> None:
        """Always available."""

    async def accept(self, request: DraftRequest, *, urgency: Urgency, source: str, actor: str,
                     template_set: str, backend: str, status: DraftStatus = DraftStatus.GENERATING,
                     origin: FhirOrigin | None = None, template_version_id: str | None = None) -> tuple[str, str]:
        """Keep the message and a draft in `status` (evals draft at once: 'generating'); return their ids."""
        now = utcnow()
        message = Message(id=new_id(), received_at=now, sent_at=request.message.sent_at,
                          subject=request.message.subject, text=request.message.text,
                          language=request.message.language, source=source, urgency=urgency.value,
                          urgency_rank=urgency.rank, request={})
        draft = Draft(id=new_id(), message_id=message.id, status=status.value,
                      urgency_rank=urgency.rank, message_received_at=now, template_set=template_set,
                      backend=backend, created_at=now, template_version_id=template_version_id,
                      prompt_tokens=0, completion_tokens=0, attempts=0, timings={})
        draft.message = message
        self._drafts[draft.id] = draft
        return message.id, draft.id

    async def accept_labelled(self, request: DraftRequest, *, set_name: str, label: str, urgency: Urgency,
                              source: str, actor: str, backend: str) -> tuple[str, str, str]:
        """Evals render the template set they are given; there is no label to read."""
        raise ConflictError("Eval runs render a template set from files or a named version, not a label.")

    async def start_regeneration(self, draft_id: str, *, actor: str, template_set: str,
                                 backend: str, template_version_id: str | None = None) -> tuple[str, str]:
        """Evals draft each case once."""
        raise ConflictError("Eval runs do not regenerate drafts.")

    async def complete(self, draft_id: str, *, text: str, status: DraftStatus, findings: Sequence[Finding],
                       model: str, prompt_tokens: int, completion_tokens: int, attempts: int,
                       finish_reason: str, timings: dict[str, float], error_code: str | None = None,
                       error_message: str | None = None, template_set: str | None = None,
                       template_version_id: str | None = None) -> Draft:
        """The finished draft with its findings (and the model failure behind a template-only fallback)."""
        draft = await self.get(draft_id)
        draft.text, draft.status, draft.model = text, status.value, model
        draft.prompt_tokens, draft.completion_tokens, draft.attempts = prompt_tokens, completion_tokens, attempts
        draft.finish_reason, draft.timings, draft.completed_at = finish_reason, timings, utcnow()
        draft.error_code, draft.error_message = error_code, error_message
        if template_set is not None:
            draft.template_set, draft.template_version_id = template_set, template_version_id
        draft.findings = _finding_rows(draft_id, findings)
        return draft

    async def fail(self, draft_id: str, *, error_code: str, error_message: str, findings: Sequence[Finding],
                   attempts: int, timings: dict[str, float]) -> None:
        """Mark the draft failed, keeping the input findings and triage."""
        draft = await self.get(draft_id)
        draft.status, draft.error_code, draft.error_message = DraftStatus.FAILED.value, error_code, error_message
        draft.attempts, draft.timings, draft.completed_at = attempts, timings, utcnow()
        draft.findings = _finding_rows(draft_id, findings)

    async def get(self, draft_id: str) -> Draft:
        """One kept draft."""
        try:
            return self._drafts[draft_id]
        except KeyError:
            raise NotFoundError(f"No draft with id {draft_id} in this eval run.") from None

    def discard(self, draft_id: str) -> None:
        """Forget a draft once its case is recorded."""
        self._drafts.pop(draft_id, None)
