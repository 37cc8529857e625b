"""Drafts should be short enough to read on a phone and long enough to answer."""

from __future__ import annotations

from guardrails.checks._text import WORD, lower_words
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity


def _word_start(text: str, index: int) -> int:
    """Where the word at `index` starts (indexed like a list); only needed for a draft that is too long."""
    return [m.start() for m in WORD.finditer(text)][index]


def check(ctx: OutputContext, *, min_words: int = 12, max_words: int = 180) -> list[Finding]:
    """Warn when the draft is outside the word-count bounds."""
    count = len(lower_words(ctx.draft))  # cached: prompt_leak reads the same words
    if count < min_words:
        return [Finding(check="length", severity=Severity.WARN, code="too_short",
                        message=f"The draft has {count} words; a useful reply usually needs at least {min_words}.",
                        suggestion="Acknowledge the concern and say what happens next.")]
    if count > max_words:
        return [Finding(check="length", severity=Severity.WARN, code="too_long",
                        span=(_word_start(ctx.draft, max_words), len(ctx.draft.rstrip())),
                        message=f"The draft has {count} words; keep it under {max_words} so it is read.",
                        suggestion="Cut the highlighted part or move detail to a visit.")]
    return []
