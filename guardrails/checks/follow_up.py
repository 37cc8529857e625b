"""The reply should say what happens next or invite the patient to follow up."""

from __future__ import annotations

from guardrails.checks._prefilter import Pattern
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_NEXT = Pattern(
    r"\b(?:(?:any|other|more|your|a|with)\s+(?:\w+\s+)?questions?|let\s+(?:us|me)\s+know|write\s+(?:back|to\s+us)|reply|reach\s+out|call\s+(?:us|the\s+office|"
    r"\d)|contact\s+(?:us|you)|message\s+us|tell\s+us|happy\s+to|here\s+(?:if|for\s+you)|will\s+(?:review|look|"
    r"contact|reach|follow|get\s+back|reply|respond|talk|go\s+over|check|read|discuss)|follow[- ]up|next\s+steps?|"
    r"keep\s+us\s+(?:posted|updated)|send\s+(?:us|a\s+message)|just\s+send|reach\s+out|anytime|any\s+time|"
    r"preguntas?|av[ií]senos|escr[ií]banos|ll[aá]menos|llame|respond(?:a|er)|le\s+avisar[aá]|revisar[aá]|"
    r"se\s+comunicar[aá])")


def check(ctx: OutputContext) -> list[Finding]:
    """Warn when the patient is left without a next step or an invitation to write back."""
    if _NEXT.search(ctx.draft):
        return []
    return [Finding(check="follow_up", severity=Severity.WARN, code="missing",
                    message="The draft gives no next step and does not invite questions.",
                    suggestion="Say what happens next and invite the patient to write back.")]
