"""Portal messages are plain text: markdown or HTML shows up as stray symbols for the patient."""

from __future__ import annotations

import re

from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

# (code, label, pattern, characters one of which every match contains: most drafts have none, so the regex
# need not run)
_MARKUP: tuple[tuple[str, str, re.Pattern[str], str], ...] = (
    ("html", "HTML tags", re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>"), "<"),
    ("markdown_emphasis", "markdown bold or italics", re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"), "*_"),
    ("markdown_heading", "markdown headings", re.compile(r"^\s{0,3}#{1,6}\s", re.MULTILINE), "#"),
    ("markdown_link", "markdown links", re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"), "["),
    ("code_fence", "code fences", re.compile(r"```"), "`"),
)


def check(ctx: OutputContext) -> list[Finding]:
    """Warn on each kind of markup found in the draft, pointing at the first occurrence."""
    findings = []
    for code, label, pattern, marks in _MARKUP:
        match = pattern.search(ctx.draft) if any(mark in ctx.draft for mark in marks) else None
        if match:
            findings.append(Finding(check="plain_text", severity=Severity.WARN, code=code, span=match.span(),
                                    message=f"The draft contains {label}, which the portal shows as raw symbols.",
                                    suggestion="Use plain sentences."))
    return findings
