"""What admins do with template sets: draft versions, validate, preview, diff, gate, publish, roll back, and
see how each version's drafts fared with clinicians. The API and the CLI both call this; neither repeats it.
"""

from __future__ import annotations

import difflib
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from drafter.domain import DraftRequest
from drafter.errors import ConflictError, GateBlockedError, InputError, TemplateError, TemplateInvalidError
from drafter.pipeline import Pipeline
from drafter.prompting import PromptRenderer, TemplateSet
from drafter.storage.models import TemplateLabel, TemplateLabelMove, TemplateVersion
from drafter.templates.gate import EvalGate, GateResult
from drafter.templates.isolation import render_isolated
from drafter.templates.refs import LABEL_NAME, PRODUCTION, SET_NAME, TemplateRef
from drafter.templates.resolver import TemplateResolver
from drafter.templates.samples import RenderContext, sample, validation_contexts, variables_for
from drafter.templates.store import SetSummary, TemplateStore, VersionStatus
from drafter.templates.validation import Issue, SampleRender, ValidationReport, static_issues

MIN_OVERRIDE_REASON = 15  # characters: a real sentence, not "ok"


@dataclass(frozen=True, slots=True)
class Preview:
    """The exact request a sample would send to the model, and optionally a full draft with its findings."""

    version: str
    sample: str
    mode: str
    request: dict[str, Any] | None
    error: str | None = None
    draft: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Outcomes:
    """How clinicians treated the drafts one version produced."""

    version: int
    drafts: int
    held_for_clinician: int
    reviewed: int
    approved: int
    approved_unedited: int
    rejected: int
    approval_rate: float | None
    approved_unedited_rate: float | None
    mean_char_edit_distance: float | None
    mean_word_edit_distance: float | None
    median_seconds_to_decision: float | None
    rejection_reasons: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)  # comments clinicians left when approving


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[int | float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


class TemplateAdmin:
    """Template administration over the store, the resolver's cache, the pipeline's steps and the eval gate."""

    def __init__(self, store: TemplateStore, resolver: TemplateResolver, pipeline: Pipeline, gate: EvalGate, *,
                 render_timeout_s: float = 20.0) -> None:
        self.store, self.resolver, self.pipeline, self.gate = store, resolver, pipeline, gate
        self.render_timeout_s = render_timeout_s

    # -- reading -----------------------------------------------------------------------------------

    async def sets(self) -> list[SetSummary]:
        """Every set with version counts and labels."""
        return await self.store.sets()

    async def versions(self, set_name: str) -> tuple[list[TemplateVersion], list[TemplateLabel]]:
        """A set's versions (newest first) and its labels."""
        return await self.store.versions(set_name), await self.store.labels(set_name)

    async def version(self, set_name: str, version: int) -> TemplateVersion:
        return await self.store.version(set_name, version)

    async def history(self, set_name: str, label: str = PRODUCTION) -> list[TemplateLabelMove]:
        return await self.store.history(set_name, label)

    # -- drafting and validating -------------------------------------------------------------------

    async def files_for(self, set_name: str, *, files: Mapping[str, str] | None,
                        changes: Mapping[str, str | None] | None, based_on: int | None) -> dict[str, str]:
        """A full file set: `files` as given, or `based_on`'s files with `changes` applied (None deletes)."""
        if files is not None and changes is not None:
            raise InputError("Send either files (the whole set) or changes (with based_on), not both.")
        if files is not None:
            return dict(files)
        if based_on is None:
            raise InputError("Send files (the whole set), or changes with based_on (the version they apply to).")
        merged = dict((await self.store.version(set_name, based_on)).files)
        for name, text in (changes or {}).items():
            if text is None:
                if name not in merged:
                    raise InputError(f"Cannot delete {name}: version {based_on} has no such file.")
                merged.pop(name)
            else:
                merged[name] = text
        return merged

    async def validate(self, files: Mapping[str, str], *, label: str) -> ValidationReport:
        """Static checks, then (when they pass) every sample context rendered in the isolated sandbox."""
        report = ValidationReport(issues=static_issues(files))
        if report.issues and any(i.severity == "error" for i in report.issues):
            return report
        try:
            manifest = template_set_of_files(files, label).manifest
        except TemplateError as exc:  # a check the static pass does not repeat (kept as the last word)
            report.issues.append(Issue("invalid_set", exc.message, exc.details.get("template")))
            return report
        contexts = validation_contexts(self.pipeline, manifest)
        for result in await render_isolated(files, contexts, label=label, timeout_s=self.render_timeout_s):
            issue = None if result.ok else Issue(
                "render_failed", f"sample {result.id} ({result.mode}): {result.message}",
                (result.details or {}).get("template"), (result.details or {}).get("line"))
            chars = sum(len(m["content"]) for m in result.request["messages"]) + len(result.request["prompt"]) \
                if result.request else 0
            report.renders.append(SampleRender(result.id, result.mode, result.ok, chars, result.ms, issue))
        return report

    async def create(self, set_name: str, files: Mapping[str, str], *, author: str, message: str,
                     based_on: int | None) -> tuple[TemplateVersion, ValidationReport]:
        """Store a new draft version; refused (with every issue) when the set does not validate."""
        if not SET_NAME.match(set_name):
            raise InputError(f"{set_name!r} is not a valid set name: lower-case letters, digits, - and _.")
        if not message.strip():
            raise InputError("Say what changed and why in message (it is kept with the version).")
        report = await self.validate(files, label=f"{set_name}@new")
        if not report.ok:
            raise TemplateInvalidError(
                f"The template set does not validate ({len(report.errors)} problem(s)); first: "
                f"{report.errors[0].where()}: {report.errors[0].message}", details=report.to_dict())
        row = await self.store.create(set_name, files, author=author, message=message.strip(), based_on=based_on,
                                      validation=report.to_dict())
        return row, report

    async def validate_version(self, set_name: str, version: int) -> ValidationReport:
        """Validate a stored version again and store the report with it."""
        row = await self.store.version(set_name, version)
        report = await self.validate(row.files, label=f"{set_name}@{version}")
        await self.store.record(row.id, validation=report.to_dict())
        return report

    # -- preview -----------------------------------------------------------------------------------

    async def preview(self, set_name: str, *, version: int | None = None, files: Mapping[str, str] | None = None,
                      sample_id: str | None = None, request: DraftRequest | None = None, mode: str = "chat",
                      full_draft: bool = False, actor: str = "admin") -> Preview:
        """The exact messages for a sample (or a message of your own); `full_draft` also drafts it through the
        pipeline's steps with the configured model and returns the findings. Nothing is stored."""
        if mode not in ("chat", "completion"):
            raise InputError(f"mode must be chat or completion, not {mode!r}.")
        if (sample_id is None) == (request is None):
            raise InputError("Choose a sample (sample_id) or send a message (request), one of the two.")
        draft_request = request if request is not None else sample(sample_id or "").request
        label = f"{set_name}@{version}" if version is not None else f"{set_name}@unsaved"
        if version is not None:
            files = (await self.store.version(set_name, version)).files
        if files is None:
            raise InputError("Preview needs a version or the files to preview.")
        issues = static_issues(files)
        if any(i.severity == "error" for i in issues):
            first = next(i for i in issues if i.severity == "error")
            return Preview(label, sample_id or "custom", mode, None, f"{first.where()}: {first.message}")
        self.pipeline.validate(draft_request)
        context = RenderContext(sample_id or "custom", mode, variables_for(self.pipeline, draft_request))
        rendered = (await render_isolated(files, [context], label=label, timeout_s=self.render_timeout_s))[0]
        if not rendered.ok or not full_draft:
            return Preview(label, context.id, mode, rendered.request, None if rendered.ok else rendered.message)
        renderer = self.resolver.renderer_for(await self.store.version(set_name, version)) if version is not None \
            else _renderer_for_files(files, label)
        return Preview(label, context.id, mode, rendered.request,
                       draft=await self._draft_without_storing(draft_request, renderer))

    async def _draft_without_storing(self, request: DraftRequest, renderer: PromptRenderer) -> dict[str, Any]:
        # The pipeline's own steps, minus storage: a preview is not a patient message and must not reach an inbox.
        pipeline = self.pipeline
        findings, level = pipeline.assess_input(request)
        redactor = pipeline.redactor_for(request, findings)
        llm_request = pipeline.render(request, findings, level, redactor, renderer=renderer)
        result = await pipeline.llm.complete(llm_request)
        system = llm_request.messages[0].content if llm_request.messages else ""
        text, all_findings, status = pipeline.finish(request, result, findings, level, redactor=redactor,
                                                     system_prompt=system)
        return {"text": text, "status": status.value, "urgency": level.value, "model": result.model,
                "findings": [asdict(f) | {"severity": f.severity.value} for f in all_findings]}

    # -- diff --------------------------------------------------------------------------------------

    async def diff(self, set_name: str, old: int, new: int) -> dict[str, Any]:
        """Unified diff per file between two versions, with the files added and removed."""
        a = (await self.store.version(set_name, old)).files
        b = (await self.store.version(set_name, new)).files
        changed = {}
        for name in sorted(set(a) | set(b)):
            if a.get(name) == b.get(name):
                continue
            lines = difflib.unified_diff(str(a.get(name, "")).splitlines(keepends=True),
                                         str(b.get(name, "")).splitlines(keepends=True),
                                         fromfile=f"{set_name}@{old}/{name}" if name in a else "/dev/null",
                                         tofile=f"{set_name}@{new}/{name}" if name in b else "/dev/null")
            changed[name] = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                                    for line in lines)
        return {"set": set_name, "from": old, "to": new, "added": sorted(set(b) - set(a)),
                "removed": sorted(set(a) - set(b)), "files": changed}

    # -- gate, publish, rollback, labels -----------------------------------------------------------

    async def run_gate(self, set_name: str, version: int, *, actor: str) -> GateResult:
        """Run the eval gate on a version against production and store the result with the version."""
        row = await self.store.version(set_name, version)
        production = await self.store.label(set_name, PRODUCTION)
        baseline = TemplateRef(set_name, version=production.version) if production else None
        try:
            result = await self.gate.run(candidate=TemplateRef(set_name, version=version), baseline=baseline)
        except Exception as exc:  # the gate failing is not a pass: record it and block
            result = GateResult(status="error", candidate=f"{set_name}@{version}",
                                baseline=str(baseline) if baseline else None, gate=self.gate.name,
                                summary=f"The eval gate failed: {type(exc).__name__}: "
                                        f"{getattr(exc, 'message', None) or exc}"[:500])
        await self.store.record(row.id, gate=result.to_dict(), actor=actor)
        return result

    async def publish(self, set_name: str, version: int, *, actor: str,
                      override_reason: str | None = None) -> tuple[TemplateVersion, GateResult]:
        """Validate, run the gate, and point `production` at the version; a failed gate needs an override."""
        row = await self.store.version(set_name, version)
        production = await self.store.label(set_name, PRODUCTION)
        if production is not None and production.version == version:
            raise ConflictError(f"{set_name}@{version} is already in production.")
        reason = (override_reason or "").strip() or None
        if reason is not None and len(reason) < MIN_OVERRIDE_REASON:  # before the gate: it may take minutes
            raise InputError(f"The override reason must say why in at least {MIN_OVERRIDE_REASON} characters.")
        report = await self.validate_version(set_name, version)
        if not report.ok:
            raise TemplateInvalidError(f"{set_name}@{version} does not validate; fix it in a new version first: "
                                       f"{report.errors[0].where()}: {report.errors[0].message}",
                                       details=report.to_dict())
        gate = await self.run_gate(set_name, version, actor=actor)
        if not gate.passed and reason is None:
            raise GateBlockedError(f"Publishing {set_name}@{version} is blocked: {gate.summary} To publish anyway, "
                                   "give an override reason (it is audited).", details={"gate": gate.to_dict()})
        await self.store.move_label(set_name, PRODUCTION, version, actor=actor, action="publish",
                                    reason=reason if not gate.passed else None,
                                    details={"gate_status": gate.status, "override": not gate.passed})
        return await self.store.version_by_id(row.id), gate

    async def rollback(self, set_name: str, *, actor: str, reason: str, to_version: int | None = None) -> int:
        """Move `production` back: to `to_version` (a version that was live before) or to the one before the
        current version. Returns the version production now points at."""
        if not reason.strip():
            raise InputError("Say why you roll back in reason (it is audited).")
        moves = await self.store.history(set_name, PRODUCTION)
        if not moves:
            raise ConflictError(f"Template set {set_name!r} has no production label to roll back.")
        stack: list[int] = []
        for move in moves:  # a rollback undoes the move before it; publishes stack up
            if move.action == "rollback":
                while stack and stack[-1] != move.to_version:
                    stack.pop()
                if not stack:
                    stack.append(move.to_version)
            elif not stack or stack[-1] != move.to_version:
                stack.append(move.to_version)
        current = stack[-1]
        if to_version is None:
            if len(stack) < 2:
                raise ConflictError(f"{set_name}@{current} is the first production version; there is nothing "
                                    "earlier to roll back to.")
            target = stack[-2]
        else:
            if to_version == current:
                raise ConflictError(f"{set_name}@{to_version} is already in production.")
            row = await self.store.version(set_name, to_version)
            if row.status == VersionStatus.DRAFT:
                raise ConflictError(f"{set_name}@{to_version} was never published; publish it (through the gate) "
                                    "instead of rolling back to it.")
            target = to_version
        await self.store.move_label(set_name, PRODUCTION, target, actor=actor, action="rollback",
                                    reason=reason.strip())
        return target

    async def set_label(self, set_name: str, label: str, version: int, *, actor: str) -> TemplateLabel:
        """Point a label other than production (staging, any name) at a version."""
        if label == PRODUCTION:
            raise InputError("production moves only by publish (through the gate) or rollback.")
        if not LABEL_NAME.match(label):
            raise InputError(f"{label!r} is not a valid label: lower-case letters, digits, - and _.")
        return await self.store.move_label(set_name, label, version, actor=actor, action="label")

    # -- outcomes ----------------------------------------------------------------------------------

    async def outcomes(self, set_name: str, version: int) -> Outcomes:
        """Drafts produced, approval rates, edit distances, rejection reasons and approval comments."""
        row = await self.store.version(set_name, version)
        produced, held, reviews = await self.store.outcome_rows(row.id)
        approved = [r for r in reviews if r.decision == "approve"]
        rejected = [r for r in reviews if r.decision == "reject"]
        unedited = [r for r in approved if not r.edited]
        reasons = Counter(" ".join((r.reason or "").split()).rstrip(".").lower() for r in rejected if r.reason)
        times = [r.seconds_to_decision for r in reviews if r.seconds_to_decision is not None]
        return Outcomes(
            version=version, drafts=produced, held_for_clinician=held, reviewed=len(reviews),
            approved=len(approved), approved_unedited=len(unedited), rejected=len(rejected),
            approval_rate=_rate(len(approved), len(reviews)), approved_unedited_rate=_rate(len(unedited), len(reviews)),
            mean_char_edit_distance=_mean([r.char_edit_distance for r in approved if r.char_edit_distance is not None]),
            mean_word_edit_distance=_mean([r.word_edit_distance for r in approved if r.word_edit_distance is not None]),
            median_seconds_to_decision=round(statistics.median(times), 1) if times else None,
            rejection_reasons=[{"reason": reason, "count": count} for reason, count in reasons.most_common(20)],
            feedback=[r.reason for r in approved if r.reason][:50],
        )


def template_set_of_files(files: Mapping[str, str], label: str) -> TemplateSet:
    """A TemplateSet from unsaved files (for checks the static pass does not cover)."""
    return TemplateSet.from_files(files, origin=label)


def _renderer_for_files(files: Mapping[str, str], label: str) -> PromptRenderer:
    return PromptRenderer(template_set_of_files(files, label))
