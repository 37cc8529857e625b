"""Identifiers in the patient's message: their own supplied details (exact or fuzzy) and common patterns."""

from __future__ import annotations

from guardrails.checks import _phi_patterns
from guardrails.context import InputContext
from guardrails.finding import Finding, Severity


def spans(ctx: InputContext) -> list[tuple[str, tuple[int, int], str]]:
    """(kind, span, text) of every identifier in the message, known identifiers first, no overlaps."""
    found = [(kind, span, text) for kind, span, text in _phi_patterns.find_known(ctx.text, ctx.identifiers)]
    found += [(kind, span, text) for kind, _, span, text in _phi_patterns.find(ctx.text)]
    kept: list[tuple[str, tuple[int, int], str]] = []
    for item in found:
        if not any(item[1][0] < k[1][1] and k[1][0] < item[1][1] for k in kept):
            kept.append(item)
    return sorted(kept, key=lambda k: k[1])


def check(ctx: InputContext) -> list[Finding]:
    """Mark identifiers so the reviewer sees them and redaction can replace them before the model call."""
    return [
        Finding(check="phi", severity=Severity.INFO, code=kind, target="message", span=span,
                message=f"The message contains {'the patient' if kind in ctx.identifiers else 'an'} identifier "
                        f"({kind.replace('_', ' ')}).",
                suggestion=None)
        for kind, span, _ in spans(ctx)
    ]
