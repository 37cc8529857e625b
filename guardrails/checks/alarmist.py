"""Alarmist wording for a routine message: frightening without cause."""

from __future__ import annotations

from guardrails.checks._prefilter import Pattern
from guardrails.checks._text import conditional
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity, Urgency

ALARM = Pattern(
    r"\b(?:could|might|may)\s+(?:be|mean|indicate)\s+(?:a\s+)?(?:cancer|tumou?r|something\s+(?:very\s+)?serious|"
    r"life-threatening|fatal|a\s+stroke|a\s+heart\s+attack)\b|\bvery\s+(?:serious|dangerous|concerning|alarming)\b"
    r"|\bextremely\s+(?:serious|dangerous|concerning)\b|\blife-threatening\b|\byou\s+(?:could|might|may)\s+die\b"
    r"|\b(?:go|get)\s+to\s+the\s+(?:er|emergency\s+(?:room|department))\s+(?:immediately|right\s+away|now|at\s+once)"
    r"|\bcall\s+911\s+(?:immediately|right\s+away|now)\b|\bthis\s+is\s+an?\s+emergency\b|\bmedical\s+emergency\b"
    r"|\b(?:early\s+)?(?:sign|symptom)\s+of\s+(?:\w+\s+){0,2}(?:cancer|leukemia|lymphoma|tumou?r|a\s+stroke|heart\s+attack)"
    r"|\bdangerously\b|\bat\s+risk\s+of\s+(?:a\s+)?(?:heart\s+attack|stroke|death|dying)\b|\bwaiting\s+to\s+happen\b"
    r"|\bneeds?\s+attention\s+right\s+away\b|\bmuy\s+grave\b|\burgencias\s+ahora\s+mismo\b")


def check(ctx: OutputContext) -> list[Finding]:
    """Warn when a routine message gets unconditional alarm; conditional safety-net advice is fine."""
    if ctx.urgency is not Urgency.ROUTINE:
        return []
    for span in ALARM.finditer(ctx.draft):
        if conditional(ctx.draft, span[0]):
            continue
        return [Finding(check="alarmist", severity=Severity.WARN, code="alarmist", span=span,
                        message="The draft sounds alarming for a message triaged as routine.",
                        suggestion="Keep warning signs conditional (\"if … call 911\") and the tone calm.")]
    return []
