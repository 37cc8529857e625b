"""Numbers, doses, dates, medicines and tests in the draft must come from the message or the chart."""

from __future__ import annotations

import re
from functools import lru_cache

from guardrails.checks._lexicon import TEST, WORD_NUMBERS, medications
from guardrails.checks._prefilter import Pattern
from guardrails.checks._text import in_source
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_FACT = Pattern(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|g|ml|units?|iu|%|mmol/l|mg/dl|mmhg|bpm|lbs?|kg|°f|°c|degrees|pounds|kilos|libras)"
    r"(?![a-z])|\b\d+\s+(?:sessions?|visits?|refills?|pills?|tablets?|doses?|weeks?|months?|hours?|times?|"
    r"shots?|injections?|sesiones|semanas)\b"
    r"|\b\d{1,2}\s+de\s+(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)\b"
    r"|\b\d{2,3}/\d{2,3}\b"
    r"|\b\d+\.\d+\b"
    r"|\b\d{3,}\b"
    r"|\b(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|miércoles|jueves|viernes)\b"
    r"|\b\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)")
_ALWAYS_OK = frozenset({"911", "988", "24/7"})
_WORD_NUMBER = re.compile(r"\b(" + "|".join(WORD_NUMBERS) + r")\b", re.IGNORECASE)


@lru_cache(maxsize=256)
def _normalised_source(source: str) -> str:
    words = _WORD_NUMBER.sub(lambda m: WORD_NUMBERS[m.group(1).lower()], source)
    return source + "\n" + words


def check(ctx: OutputContext) -> list[Finding]:
    """Flag each kind of specific the draft introduces that no input supports (first occurrence)."""
    source = _normalised_source(ctx.source)
    findings: list[Finding] = []
    draft = ctx.draft
    candidates = (
        ("number", "number, dose or date", ((span, draft[span[0]:span[1]]) for span in _FACT.finditer(draft))),
        ("medication", "medicine", iter(medications(draft))),
        ("test", "test", ((span, draft[span[0]:span[1]]) for span in TEST.finditer(draft))),
    )
    for code, label, terms in candidates:
        for span, term in terms:
            if term in _ALWAYS_OK or in_source(term, source):
                continue
            findings.append(Finding(
                check="grounding", severity=Severity.BLOCK, code=code, span=span,
                message=f"The draft mentions a {label} ({term}) that is not in the message or the chart.",
                suggestion="Check it against the chart, or remove it."))
            break
    return findings
