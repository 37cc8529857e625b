"""Drafts should be short enough to read on a phone and long enough to answer."""

from __future__ import annotations

from guardrails.checks._text import WORD
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity


def check(ctx: OutputContext, *, min_words: int = 12, max_words: int = 180) -> list[Finding]:
    """Warn when the draft is outside the word-count bounds."""
    spans = [m.span() for m in WORD.finditer(ctx.draft)]
    count = len(spans)
    if count < min_words:
        return [Finding(check="length", severity=Severity.WARN, code="too_short",
                        message=f"The draft has {count} words; a useful reply usually needs at least {min_words}.",
                        suggestion="Acknowledge the concern and say what happens next.")]
    if count > max_words:
        return [Finding(check="length", severity=Severity.WARN, code="too_long",
                        span=(spans[max_words][0], len(ctx.draft.rstrip())),
                        message=f"The draft has {count} words; keep it under {max_words} so it is read.",
                        suggestion="Cut the highlighted part or move detail to a visit.")]
    return []
