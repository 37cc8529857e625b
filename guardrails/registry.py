"""Which checks exist, in what stage they run, and how a run fails closed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from guardrails.checks import (
    acknowledgement,
    alarmist,
    directives,
    dismissive,
    emergency_guidance,
    follow_up,
    grounding,
    injection,
    length,
    phi,
    phi_leak,
    plain_text,
    promises,
    prompt_leak,
    readability,
    reassurance,
    scope,
    urgency,
)
from guardrails.context import InputContext, OutputContext
from guardrails.finding import Finding, Severity

if TYPE_CHECKING:
    from guardrails.policy import Policy

Stage = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    stage: Stage
    fn: Callable[..., list[Finding]]
    description: str


CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        Check("urgency", "input", urgency.check, "Emergency and same-day triage of the patient message."),
        Check("injection", "input", injection.check, "Prompt-injection signals in the patient message."),
        Check("phi", "input", phi.check, "Identifiers in the message (supplied values and patterns)."),
        Check("scope", "input", scope.check, "Administrative requests and messages needing no reply."),
        Check("emergency_guidance", "output", emergency_guidance.check, "Emergency drafts name 911/988."),
        Check("directives", "output", directives.check, "No new dose changes, start/stop, diagnoses, test readings."),
        Check("promises", "output", promises.check, "No bookings, refills or call-backs the practice did not make."),
        Check("grounding", "output", grounding.check, "Numbers, medicines and tests come from the input."),
        Check("phi_leak", "output", phi_leak.check, "No identifiers the input did not contain."),
        Check("prompt_leak", "output", prompt_leak.check, "No system prompt or template text in the draft."),
        Check("false_reassurance", "output", reassurance.check, "No reassurance before assessment."),
        Check("dismissive", "output", dismissive.check, "No dismissive or blaming wording."),
        Check("alarmist", "output", alarmist.check, "No unconditional alarm for routine messages."),
        Check("acknowledgement", "output", acknowledgement.check, "The reply acknowledges the concern first."),
        Check("follow_up", "output", follow_up.check, "The reply gives a next step or invites questions."),
        Check("readability", "output", readability.check, "Reading grade at or below the target."),
        Check("length", "output", length.check, "Draft word count within bounds."),
        Check("plain_text", "output", plain_text.check, "No markdown or HTML in the draft."),
    )
}


def _crashed(check: Check, exc: Exception) -> Finding:
    # Fail closed: a check that cannot decide holds the draft for the clinician.
    return Finding(
        check=check.name, severity=Severity.BLOCK, code="check_error",
        target="message" if check.stage == "input" else "draft",
        message=f"The {check.name} check could not run ({type(exc).__name__}), so this draft needs a closer look.",
        suggestion="Review the draft by hand; report the problem to the admin.",
    )


def run_checks(stage: Stage, ctx: InputContext | OutputContext, policy: Policy) -> list[Finding]:
    """Run every enabled check of a stage under the policy; a crashing check yields a block finding."""
    findings: list[Finding] = []
    for check in CHECKS.values():
        if check.stage != stage:
            continue
        rule = policy.for_check(check.name)
        if not rule.enabled:
            continue
        try:
            produced: Sequence[Any] = check.fn(ctx, **rule.params)
            if not all(isinstance(f, Finding) for f in produced):
                raise TypeError("check returned something other than findings")
        except Exception as exc:
            findings.append(_crashed(check, exc))
            continue
        findings.extend(f.with_severity(rule.severity) if rule.severity else f for f in produced)
    return findings
