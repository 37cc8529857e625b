"""Numbers, doses, dates, medicines and tests in the draft must come from the message or the chart."""

from __future__ import annotations

import re

from guardrails.checks._lexicon import MEDICATION, TEST, WORD_NUMBERS
from guardrails.checks._text import in_source
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_FACT = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|g|ml|units?|iu|%|mmol/l|mg/dl|mmhg|bpm|lbs?|kg|°f|°c|degrees)(?![a-z])"
    r"|\b\d{2,3}/\d{2,3}\b"
    r"|\b\d+\.\d+\b"
    r"|\b\d{3,}\b"
    r"|\b(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|miércoles|jueves|viernes)\b"
    r"|\b\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)",
    re.IGNORECASE)
_ALWAYS_OK = frozenset({"911", "988", "24/7"})


def _normalised_source(source: str) -> str:
    words = re.sub(r"\b(" + "|".join(WORD_NUMBERS) + r")\b", lambda m: WORD_NUMBERS[m.group(1).lower()], source,
                   flags=re.IGNORECASE)
    return source + "\n" + words


def check(ctx: OutputContext) -> list[Finding]:
    """Flag each kind of specific the draft introduces that no input supports (first occurrence)."""
    source = _normalised_source(ctx.source)
    findings: list[Finding] = []
    for code, pattern, label in (("number", _FACT, "number, dose or date"), ("medication", MEDICATION, "medicine"),
                                 ("test", TEST, "test")):
        for match in pattern.finditer(ctx.draft):
            term = match.group(0)
            if term in _ALWAYS_OK or in_source(term, source):
                continue
            findings.append(Finding(
                check="grounding", severity=Severity.BLOCK, code=code, span=match.span(),
                message=f"The draft mentions a {label} ({term}) that is not in the message or the chart.",
                suggestion="Check it against the chart, or remove it."))
            break
    return findings
