"""Which checks exist, in what stage they run, and how a run fails closed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from guardrails.checks import emergency_guidance, injection, length, plain_text, urgency
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
        Check("emergency_guidance", "output", emergency_guidance.check, "Emergency drafts name 911/988."),
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
