"""Dismissive or blaming wording that damages trust."""

from __future__ import annotations

from guardrails.checks._prefilter import Pattern
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

DISMISSIVE = Pattern(
    r"\byou\s+should\s+have\b|\bas\s+(?:i|we)\s+(?:already\s+|have\s+|had\s+)?(?:told|said|mentioned|explained)\b"
    r"|\bcalm\s+down\b|\b(?:you(?:'re|\s+are)\s+)?over\s?reacting\b|\bif\s+you\s+had\s+(?:just\s+)?(?:taken|followed|listened|called|come)"
    r"|\byou\s+need\s+to\s+(?:understand|stop\s+worrying|learn|relax)\b|\b(?:it'?s|it\s+is)\s+your\s+(?:own\s+)?fault\b"
    r"|\bobviously\b|\bclearly\s+you\b|\bstop\s+worrying\b|\byou\s+(?:always|never)\b|\bthat'?s\s+not\s+(?:our|my)\s+problem\b"
    r"|\bthere'?s\s+nothing\s+(?:we|i)\s+can\s+do\b|\bread\s+the\s+instructions\b|\bnot\s+(?:our|my)\s+fault\b"
    r"|\bstop\s+(?:complaining|messaging|calling)\b|\bbe\s+patient\b|\bwhat\s+did\s+you\s+expect\b"
    r"|\beveryone\s+(?:feels|gets|has|goes\s+through)\b|\b(?:second|third|fourth|another)\s+message\s+(?:this|about|today)"
    r"|\bis\s+the\s+reason\s+your\b|\byou\s+(?:really\s+)?(?:need|have)\s+to\s+lose\s+weight\b"
    r"|\bgoogling\b|\bwhat'?s\s+making\s+you\s+anxious\b|\bhonestly,|\bit'?s\s+all\s+in\s+your\s+head\b"
    r"|\bdebió\s+haber\b|\bcomo\s+ya\s+le\s+dije\b|\bcálmese\b")


def check(ctx: OutputContext) -> list[Finding]:
    """Block blame and dismissal; a frustrated patient needs acknowledgement, not a lecture."""
    span = DISMISSIVE.search(ctx.draft)
    if not span:
        return []
    return [Finding(check="dismissive", severity=Severity.BLOCK, code="dismissive", span=span,
                    message="The draft uses dismissive or blaming wording.",
                    suggestion="Acknowledge the concern and offer the next step instead.")]
