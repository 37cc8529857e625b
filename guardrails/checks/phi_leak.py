"""Identifiers in the draft that the input did not contain, and redaction placeholders left behind."""

from __future__ import annotations

import re

from guardrails.checks import _phi_patterns
from guardrails.checks._prefilter import Pattern
from guardrails.checks._text import in_source
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_PLACEHOLDER = re.compile(r"\[(?:PATIENT_NAME|NAME|PHONE|EMAIL|SSN|MRN|DATE|ADDRESS|URL|DATE_OF_BIRTH)(?:_\d+)?\]")
_GREETING = re.compile(r"^\s*(?i:hi|hello|dear|good\s+(?:morning|afternoon)|hola|estimad[oa]|buenos\s+d[ií]as)\s+"
                       r"(?i:(?:mr|mrs|ms|se[ñn]ora|se[ñn]or|sra|sr)\.?\s+)?"
                       r"([A-ZÁÉÍÓÚÑ][a-záéíóúñ]+(?:\s+[A-ZÁÉÍÓÚÑ][a-záéíóúñ]+)?)\b", re.MULTILINE)
_ASKED_NAME = Pattern(r"\b(?:[Ii]s\s+this|[Ii]s\s+it|[Ff]or)\s+([A-Z][a-z]{2,})\s+(?:again|still|or)\b",
                      ignore_case=False, group=1)


def check(ctx: OutputContext) -> list[Finding]:
    """Block a draft that names or identifies someone the input never mentioned."""
    source = ctx.source
    for kind, label, span, text in _phi_patterns.find(ctx.draft):
        if kind == "name" and text.split()[0] in {"Lee", "Care"}:
            continue
        if not in_source(text, source) and not (kind == "name" and in_source(text.split()[-1], source)):
            return [Finding(check="phi_leak", severity=Severity.BLOCK, code=kind, span=span,
                            message=f"The draft contains {label} that is not in the patient's message or chart.",
                            suggestion="Remove it: it may belong to someone else.")]
    greeting = _GREETING.search(ctx.draft)
    if greeting and not in_source(greeting.group(1).split()[0], source):
        return [Finding(check="phi_leak", severity=Severity.BLOCK, code="name", span=greeting.span(1),
                        message="The draft greets someone by a name the input does not contain.",
                        suggestion="Use the patient's name from the chart, or no name.")]
    asked = _ASKED_NAME.search(ctx.draft)
    if asked and not in_source(ctx.draft[asked[0]:asked[1]], source):
        return [Finding(check="phi_leak", severity=Severity.BLOCK, code="name", span=asked,
                        message="The draft names someone the input does not mention.",
                        suggestion="Remove the name: it may belong to another patient.")]
    placeholder = _PLACEHOLDER.search(ctx.draft)
    if placeholder and placeholder.group(0) != "[CLINICIAN_NAME]":
        return [Finding(check="phi_leak", severity=Severity.WARN, code="placeholder", span=placeholder.span(),
                        message="The draft still contains a placeholder.",
                        suggestion="Replace it with the right detail or remove it.")]
    return []
