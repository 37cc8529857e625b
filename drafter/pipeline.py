"""The one drafting path: input checks → store → render → LLM → output checks → decide → store.

API routes, the CLI, the eval runner and background workers all call `Pipeline`; none repeats a step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from drafter.classify import LANGUAGE_NAMES, categorize, detect_language
from drafter.domain import DraftRequest, DraftStatus
from drafter.errors import (
    DrafterError,
    DraftInterruptedError,
    EmptyMessageError,
    InputError,
    LLMBusyError,
    LLMError,
    MessageTooLongError,
)
from drafter.llm.base import LLM, Delta, LLMRequest, LLMResult
from drafter.observer import PipelineObserver
from drafter.prompting import PromptRenderer
from drafter.storage.models import Draft, Message
from drafter.storage.repository import DraftStore, FhirOrigin
from drafter.templates.refs import PRODUCTION, TemplateRef
from drafter.templates.resolver import ActiveTemplates, TemplateResolver
from guardrails import Finding, InputContext, OutputContext, Policy, PracticePolicy, Severity, Urgency, run_checks
from guardrails.checks import emergency_guidance, urgency
from guardrails.redaction import Redactor, redact_tree

FALLBACK_MODEL = "template-fallback"  # the model name stored with a template-only draft
_CRISIS_CODES = frozenset({"self_harm", "overdose"})
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """What the pipeline needs from settings; built by the app or CLI."""

    max_message_chars: int = 20_000
    max_tokens: int = 350
    temperature: float = 0.3
    practice: PracticePolicy = field(default_factory=PracticePolicy)
    demo_model: bool = False  # the embedded model: every draft says it is not for clinical use
    # Guardrails on a message this long (with its chart context) take milliseconds to a third of a second (20,000
    # characters: ~290 ms): they run in a worker thread so other requests keep being served meanwhile. Shorter
    # ones run inline, where they cost less than the hop to a thread (bench/overhead.py, README "At scale").
    offload_chars: int = 1_000


class _Clock:
    """Milliseconds per step; `overhead_ms` is everything except waiting for the model."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started
        self.steps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps[f"{step}_ms"] = round((now - self.last) * 1000, 3)
        self.last = now

    def summary(self) -> dict[str, float]:
        total = (time.perf_counter() - self.started) * 1000
        return {**self.steps, "total_ms": round(total, 3),
                "overhead_ms": round(total - self.steps.get("llm_ms", 0.0), 3)}


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Everything decided before the model call."""

    clock: _Clock
    findings: list[Finding]
    level: Urgency
    draft_id: str
    llm_request: LLMRequest
    redactor: Redactor | None
    template_set: str  # the set that rendered the prompt (name@version), stored with the finished draft
    template_version_id: str | None


def request_of(message: Message) -> DraftRequest:
    """The draft request a stored message was accepted from."""
    return DraftRequest.model_validate({
        "message": {"text": message.text, "subject": message.subject, "sent_at": message.sent_at,
                    "language": message.language},
        **message.request,
    })


def _context_text(request: DraftRequest) -> str:
    ctx = request.context
    return "\n".join([*ctx.medications, *ctx.problems, *ctx.recent_results, ctx.notes or ""])


class Pipeline:
    """Drafts one reply for clinician review and stores every step's outcome."""

    def __init__(self, *, llm: LLM, store: DraftStore, renderer: PromptRenderer, policy: Policy,
                 config: PipelineConfig, fallback: PromptRenderer | None = None,
                 observer: PipelineObserver | None = None, templates: TemplateResolver | None = None) -> None:
        self.llm, self.store, self.renderer, self.policy, self.config = llm, store, renderer, policy, config
        self.fallback = fallback  # the template-only reply when the model fails; None: store the draft as failed
        self.observer = observer  # metrics: told about every stored draft (codes and timings, never text)
        # With a resolver, drafts use the database's `production` label (or the version a request names);
        # without one (tools that render from files), `renderer` is the only set.
        self.templates = templates

    async def _off_loop(self, size: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a CPU-bound step inline for ordinary input, in a worker thread for long input (see offload_chars)."""
        if size <= self.config.offload_chars:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- steps -----------------------------------------------------------------------------------

    def validate(self, request: DraftRequest) -> None:
        """Reject what cannot be drafted, with a message saying how to fix it."""
        text = request.message.text
        if not text.strip():
            raise EmptyMessageError("The message text is empty. Send the patient's message in message.text.")
        if len(text) > self.config.max_message_chars:
            raise MessageTooLongError(
                f"The message has {len(text):,} characters; the limit is {self.config.max_message_chars:,}. "
                "Split it or shorten it.", details={"length": len(text), "limit": self.config.max_message_chars})

    def practice_for(self, request: DraftRequest) -> PracticePolicy:
        """Practice numbers for this request: the request's own values win over settings."""
        base = self.config.practice
        return PracticePolicy(
            emergency_number=base.emergency_number, crisis_line=base.crisis_line,
            after_hours_phone=request.practice.after_hours_phone or base.after_hours_phone,
            practice_name=request.practice.name or base.practice_name,
        )

    def assess_input(self, request: DraftRequest) -> tuple[list[Finding], Urgency]:
        """Run the input guardrails; return their findings and the triage level."""
        ctx = InputContext(text=request.message.text, subject=request.message.subject,
                           context_text=_context_text(request), identifiers=request.patient.identifiers())
        findings = run_checks("input", ctx, self.policy)
        return findings, urgency.level_of(findings)

    def prompt_variables(self, request: DraftRequest, findings: list[Finding], level: Urgency) -> dict[str, Any]:
        """Everything the templates may use. Patient text is neutralised by the renderer."""
        practice = self.practice_for(request)
        labels = sorted({r.label for r in urgency.RULES if r.code in {f.code for f in findings}})
        language = detect_language(request.message.text, request.message.language)
        return {
            "message": request.message.model_dump(mode="json"),
            "patient": request.patient.model_dump(mode="json"),
            "clinician": request.clinician.model_dump(mode="json"),
            "context": request.context.model_dump(mode="json"),
            "practice": {"name": practice.practice_name, "after_hours_phone": practice.after_hours_phone,
                         "emergency_number": practice.emergency_number, "crisis_line": practice.crisis_line},
            "urgency": level.value,
            "urgency_labels": labels,
            "flags": {"injection": any(f.check == "injection" for f in findings)},
            "category": categorize(request.message.text).value,
            "language": language,
            "language_name": LANGUAGE_NAMES[language],
            "signoff": request.clinician.name or "[CLINICIAN_NAME]",
        }

    async def templates_for(self, request: DraftRequest, template: str | None = None) -> ActiveTemplates:
        """The template set for this draft: `template` (name@version or name@label), else the request's, else
        the production label."""
        ref = template or request.template
        if self.templates is None:
            if ref:
                raise InputError(f"Template {ref!r} cannot be chosen here: this pipeline renders the template set "
                                 "from files only.")
            return ActiveTemplates(self.renderer, None)
        return await self.templates.resolve(ref)

    def redactor_for(self, request: DraftRequest, findings: list[Finding]) -> Redactor | None:
        """Placeholders for every identifier in the message and the supplied patient details, if policy says so."""
        if not self.policy.redact_phi:
            return None
        redactor = Redactor()
        for kind, value in request.patient.identifiers().items():
            redactor.placeholder("name" if kind == "preferred_name" else kind, value)
        text = request.message.text
        for f in findings:
            if f.check == "phi" and f.span:
                redactor.placeholder("name" if f.code == "preferred_name" else f.code, text[f.span[0]:f.span[1]])
        return redactor

    def model_variables(self, request: DraftRequest, findings: list[Finding], level: Urgency,
                        redactor: Redactor | None = None) -> dict[str, Any]:
        """The template variables as rendered for the model: placeholders instead of identifiers when redacting."""
        variables = self.prompt_variables(request, findings, level)
        if redactor is not None:
            signoff = variables["signoff"]
            variables = redact_tree(variables, redactor)  # type: ignore[assignment]
            variables["signoff"] = signoff  # the clinician's name is not patient information
        return variables

    def render(self, request: DraftRequest, findings: list[Finding], level: Urgency,
               redactor: Redactor | None = None, *, renderer: PromptRenderer | None = None) -> LLMRequest:
        """The exact request the model will receive (identifiers replaced by placeholders when redacting)."""
        variables = self.model_variables(request, findings, level, redactor)
        return (renderer or self.renderer).render(variables, mode=self.llm.prompt_mode,
                                    max_tokens=self.config.max_tokens, temperature=self.config.temperature)

    def finish(self, request: DraftRequest, result: LLMResult, input_findings: list[Finding], level: Urgency,
               *, redactor: Redactor | None = None, system_prompt: str = "") -> tuple[str, list[Finding], DraftStatus]:
        """Output guardrails and the decision: the final text, all findings, and the draft's status."""
        practice = self.practice_for(request)
        codes = frozenset(f.code for f in input_findings if f.check == "urgency")
        raw = redactor.restore(result.text) if redactor else result.text
        text, inserted = emergency_guidance.ensure(raw.strip(), level, codes, practice)
        findings = list(input_findings)
        if inserted:
            findings.append(Finding(
                check="emergency_guidance", severity=Severity.INFO, code="inserted", span=inserted,
                message="Emergency guidance was added by policy because the model left it out.",
                suggestion="Keep it unless you have spoken with the patient."))
        if result.finish_reason == "length":
            findings.append(Finding(
                check="llm_output", severity=Severity.BLOCK, code="truncated", span=(max(0, len(text) - 40), len(text)),
                message="The model stopped at its length limit, so the draft may end mid-sentence.",
                suggestion="Finish or shorten the last sentence, or regenerate."))
        if self.config.demo_model:
            findings.append(Finding(
                check="demo_model", severity=Severity.WARN, code="not_for_clinical_use",
                message=f"Drafted by the embedded demo model ({result.model}), which is not for clinical use.",
                suggestion="Configure DRAFTER_LLM_BASE_URL with a production model."))
        out_ctx = OutputContext(
            draft=text, message=request.message.text, urgency=level, urgency_codes=codes, practice=practice,
            context_text=_context_text(request), identifiers=request.patient.identifiers(),
            language=detect_language(request.message.text, request.message.language), system_prompt=system_prompt,
            clinician_name=request.clinician.name or "")
        findings.extend(run_checks("output", out_ctx, self.policy))
        blocked = any(f.severity is Severity.BLOCK for f in findings)
        return text, findings, DraftStatus.NEEDS_CLINICIAN if blocked else DraftStatus.PENDING_REVIEW

    # -- the whole path --------------------------------------------------------------------------

    async def _prepare(self, request: DraftRequest, *, source: str, actor: str,
                       regenerate: str | None, claimed: str | None = None,
                       template: str | None = None) -> _Prepared:
        clock = _Clock()
        self.validate(request)
        size = len(request.message.text) + len(_context_text(request))
        findings, level = await self._off_loop(size, self.assess_input, request)
        clock.lap("input_checks")
        label = self._label_to_read(request, template) if not (claimed or regenerate) else None
        if label is not None:
            # The label is read inside the accept transaction: one transaction fewer per draft than reading it
            # first, and still read on every draft, so a publish or rollback reaches every worker at once.
            assert self.templates is not None
            _, draft_id, version_id = await self.store.accept_labelled(
                request, set_name=label.set_name, label=label.label or PRODUCTION, urgency=level, source=source,
                actor=actor, backend=self.llm.name)
            clock.lap("store_accept")
            try:  # the set itself comes from the cache, or is loaded once per version
                active = await self.templates.by_version_id(version_id)
            except Exception as exc:
                await self._record_failure(draft_id, exc, findings, clock, attempts=0)
                raise
            clock.lap("templates")
        else:
            active = await self.templates_for(request, template)
            clock.lap("templates")
            draft_id = await self._store_draft(request, active, level, source=source, actor=actor,
                                               regenerate=regenerate, claimed=claimed)
            clock.lap("store_accept")
        try:
            redactor = self.redactor_for(request, findings)
            llm_request = self.render(request, findings, level, redactor, renderer=active.renderer)
        except Exception as exc:
            await self._record_failure(draft_id, exc, findings, clock, attempts=0)
            raise
        clock.lap("render")
        return _Prepared(clock, findings, level, draft_id, llm_request, redactor, active.renderer.template_set.label,
                         active.version_id)

    def _label_to_read(self, request: DraftRequest, template: str | None) -> TemplateRef | None:
        """The label a new draft's templates come from (read with the accept), or None when no label is read:
        no resolver (sets from files), or a reference naming a version number."""
        if self.templates is None:
            return None
        parsed = self.templates.parse(template or request.template)
        return parsed if parsed.version is None else None

    async def _store_draft(self, request: DraftRequest, active: ActiveTemplates, level: Urgency, *, source: str,
                           actor: str, regenerate: str | None, claimed: str | None) -> str:
        """The draft row this drafting writes to: claimed by a worker, a regeneration, or a new message."""
        label = active.renderer.template_set.label
        if claimed:  # accepted earlier and claimed by a background worker: nothing new to store
            return claimed
        if regenerate:
            _, draft_id = await self.store.start_regeneration(
                regenerate, actor=actor, template_set=label, backend=self.llm.name,
                template_version_id=active.version_id)
            return draft_id
        _, draft_id = await self.store.accept(request, urgency=level, source=source, actor=actor,
                                              template_set=label, backend=self.llm.name,
                                              template_version_id=active.version_id)
        return draft_id

    async def _record_failure(self, draft_id: str, exc: Exception, findings: list[Finding], clock: _Clock,
                              *, attempts: int) -> None:
        code = getattr(exc, "code", "internal_error")
        message = getattr(exc, "message", None) or f"Drafting failed ({type(exc).__name__})."
        if isinstance(exc, LLMError):
            attempts = int(exc.details.get("attempts", attempts))
        timings = clock.summary()
        await self.store.fail(draft_id, error_code=code, error_message=message, findings=findings,
                              attempts=attempts, timings=timings)
        if self.observer is not None:
            self.observer.draft_failed(code, timings, backend=self.llm.name)
        if hasattr(exc, "details") and isinstance(exc.details, dict):
            exc.details.setdefault("draft_id", draft_id)

    def falls_back_on(self, exc: Exception) -> bool:
        """True when this failure gets a template-only draft: a model failure, not our own load shedding."""
        return self.fallback is not None and isinstance(exc, LLMError) and not isinstance(exc, LLMBusyError)

    def fallback_text(self, request: DraftRequest, findings: list[Finding], level: Urgency) -> str:
        """The template-only reply for this message (no model involved), in its language, with emergency guidance."""
        assert self.fallback is not None
        codes = {f.code for f in findings if f.check == "urgency"}
        variables = self.prompt_variables(request, findings, level) | {"crisis": bool(codes & _CRISIS_CODES)}
        return self.fallback.render(variables, mode="completion", max_tokens=0, temperature=0.0).prompt

    async def _fall_back(self, request: DraftRequest, exc: LLMError, prep: _Prepared) -> Draft:
        """Store a template-only draft labelled as not AI-written, with the model's failure recorded on it."""
        try:
            text = self.fallback_text(request, prep.findings, prep.level)
        except Exception:
            await self._record_failure(prep.draft_id, exc, prep.findings, prep.clock, attempts=1)
            raise exc from None
        attempts = int(exc.details.get("attempts", 1))
        result = LLMResult(text=text, model=FALLBACK_MODEL, attempts=attempts)
        label = Finding(
            check="fallback", severity=Severity.WARN, code="template_only",
            message=f"Not written by AI: the language model failed ({exc.code}), so this is a fixed template reply "
                    "that only acknowledges the message. Personalise it before approving it.",
            suggestion="Regenerate the draft once the language model answers again.")
        text, findings, status = self.finish(request, result, [label, *prep.findings], prep.level)
        prep.clock.lap("fallback")
        draft = await self.store.complete(
            prep.draft_id, text=text, status=status, findings=findings, model=FALLBACK_MODEL, prompt_tokens=0,
            completion_tokens=0, attempts=attempts, finish_reason="fallback", timings=prep.clock.summary(),
            error_code=exc.code, error_message=exc.message, template_set=prep.template_set,
            template_version_id=prep.template_version_id)
        if self.observer is not None:  # a stored draft like any other; its error_code says the model failed
            self.observer.draft_completed(draft, result, backend=self.llm.name)
        return draft

    async def _complete(self, request: DraftRequest, result: LLMResult, prep: _Prepared) -> Draft:
        clock, draft_id = prep.clock, prep.draft_id
        system = prep.llm_request.messages[0].content if prep.llm_request.messages else ""
        size = len(request.message.text) + len(_context_text(request)) + len(result.text)
        text, all_findings, status = await self._off_loop(size, self.finish, request, result, prep.findings,
                                                          prep.level, redactor=prep.redactor, system_prompt=system)
        clock.lap("output_checks")
        draft = await self.store.complete(
            draft_id, text=text, status=status, findings=all_findings, model=result.model,
            prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens,
            attempts=result.attempts, finish_reason=result.finish_reason, timings=clock.summary(),
            template_set=prep.template_set, template_version_id=prep.template_version_id)
        if self.observer is not None:
            self.observer.draft_completed(draft, result, backend=self.llm.name)
        return draft

    async def draft(self, request: DraftRequest, *, source: str = "api", actor: str = "api",
                    regenerate: str | None = None, template: str | None = None) -> Draft:
        """Draft a reply and return the stored draft. On LLM failure the failed draft is stored, then raised.

        `template` (name@version or name@label) overrides the request's template and the production label.
        """
        prep = await self._prepare(request, source=source, actor=actor, regenerate=regenerate, template=template)
        try:
            result = await self.llm.complete(prep.llm_request)
        except Exception as exc:
            prep.clock.lap("llm")
            if isinstance(exc, LLMError) and self.falls_back_on(exc):
                return await self._fall_back(request, exc, prep)
            await self._record_failure(prep.draft_id, exc, prep.findings, prep.clock, attempts=1)
            raise
        prep.clock.lap("llm")
        return await self._complete(request, result, prep)

    async def stream(self, request: DraftRequest, *, source: str = "api", actor: str = "api",
                     regenerate: str | None = None, template: str | None = None) -> AsyncGenerator[Delta | Draft, None]:
        """Like `draft`, yielding the model's text as it arrives and the stored draft last."""
        prep = await self._prepare(request, source=source, actor=actor, regenerate=regenerate, template=template)
        async for event in self._stream_prepared(request, prep):
            yield event

    async def accept(self, request: DraftRequest, *, source: str = "api", actor: str = "api",
                     origin: FhirOrigin | None = None) -> tuple[str, str]:
        """Validate, triage and store the message with a 'queued' draft for a worker; return (message, draft) ids.

        Triage runs now so the inbox sorts the message by urgency before its draft exists.
        """
        self.validate(request)
        _, level = self.assess_input(request)
        return await self.store.accept(request, urgency=level, source=source, actor=actor,
                                       template_set=self.renderer.template_set.label, backend=self.llm.name,
                                       status=DraftStatus.QUEUED, origin=origin)

    async def generate(self, draft_id: str, *, actor: str = "drafter") -> AsyncIterator[Delta | Draft]:
        """Draft the reply for an accepted draft a worker has claimed; stream like `stream`."""
        draft = await self.store.get(draft_id)
        try:
            request = request_of(draft.message)
            prep = await self._prepare(request, source=draft.message.source, actor=actor, regenerate=None,
                                       claimed=draft_id)
        except DrafterError as exc:  # e.g. a limit lowered since it was accepted: fail it visibly, never leave it
            await self.store.fail(draft_id, error_code=exc.code, error_message=exc.message, findings=[], attempts=0,
                                  timings={})
            raise
        # A worker cancelled mid-draft (shutdown) hands the draft back to the queue itself (jobs.py), so the next
        # start writes it; marking it interrupted here would turn pending work into a failure.
        async for event in self._stream_prepared(request, prep, mark_interrupted=False):
            yield event

    async def _stream_prepared(self, request: DraftRequest, prep: _Prepared, *,
                               mark_interrupted: bool = True) -> AsyncIterator[Delta | Draft]:
        result: LLMResult | None = None
        fallback: Draft | None = None
        try:
            async for event in self.llm.stream(prep.llm_request):
                if isinstance(event, Delta):
                    yield event
                else:
                    result = event
            if result is None:
                raise LLMError("The language model stream ended without a result.")
        except (asyncio.CancelledError, GeneratorExit):
            # The consumer went away (client disconnect): no half-written draft, a clear status instead.
            if not mark_interrupted:
                raise
            prep.clock.lap("llm")
            interrupted = DraftInterruptedError("Drafting stopped before the draft was finished (the client went "
                                                "away); regenerate it.")
            await asyncio.shield(self._record_failure(prep.draft_id, interrupted, prep.findings, prep.clock,
                                                      attempts=1))
            raise
        except Exception as exc:
            prep.clock.lap("llm")
            if not (isinstance(exc, LLMError) and self.falls_back_on(exc)):
                await self._record_failure(prep.draft_id, exc, prep.findings, prep.clock, attempts=1)
                raise
            # Text already streamed is discarded: the stored draft (yielded last) is the one to show.
            fallback = await self._fall_back(request, exc, prep)
        if fallback is not None:
            yield fallback
            return
        assert result is not None
        prep.clock.lap("llm")
        yield await self._complete(request, result, prep)

    async def regenerate(self, draft_id: str, *, actor: str = "api") -> Draft:
        """Draft again for the message behind a failed or rejected draft."""
        old = await self.store.get(draft_id)
        return await self.draft(request_of(old.message), source=old.message.source, actor=actor,
                                regenerate=draft_id)
