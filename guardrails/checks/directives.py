"""New clinical directives the source did not contain: dose changes, start/stop a medicine, diagnoses,
and interpretations of tests that were not supplied."""

from __future__ import annotations

from guardrails.checks._lexicon import DIAGNOSES, GENERIC_MEDICINE, MEDICATION, TEST
from guardrails.checks._prefilter import Pattern
from guardrails.checks._text import conditional, in_source
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_MED = rf"(?:{MEDICATION.pattern}|{GENERIC_MEDICINE.pattern})"
_DOSE_CHANGE = Pattern(
    rf"\b(?:increase|decrease|raise|lower|reduce|double|halve|cut\s+back|adjust|change|bump\s+up)\b[^.!?\n]{{0,40}}"
    rf"(?:\bdose\b|\bdosage\b|\b\d+(?:\.\d+)?\s*(?:mg|mcg|units?|ml)\b|{_MED})"
    rf"|\btake\s+(?:an?\s+extra|another|(?:\d+|one|two|three)\s+(?:more|extra))\b"
    rf"|\b(?:take|use)\s+\d+(?:\.\d+)?\s*(?:mg|mcg|units?|ml|tablets?|pills?|puffs?)\b"
    rf"|\b(?:aumente|disminuya|duplique)\b[^.!?\n]{{0,30}}\b(?:dosis|mg)\b")
_START_STOP = Pattern(
    rf"\b(?:stop|discontinue|quit|hold|pause|skip|start|begin|restart|resume|switch\s+to|try\s+taking|"
    rf"deje\s+de\s+tomar|empiece\s+a\s+tomar|suspenda)\s+(?:taking\s+|using\s+)?(?:your\s+|the\s+|a\s+daily\s+|"
    rf"an?\s+)?(?:\w+\s+)?{_MED}")
_DIAGNOSIS = Pattern(
    rf"\b(?:you\s+(?:have|'ve\s+got|have\s+got|are\s+suffering\s+from|definitely\s+have|likely\s+have|probably\s+have)"
    rf"|this\s+is(?:\s+(?:definitely|clearly|just|most\s+likely|probably))?|it(?:'s|\s+is)(?:\s+(?:definitely|clearly|"
    rf"just|most\s+likely|probably))?|that(?:'s|\s+is)(?:\s+(?:definitely|just|probably))?|"
    rf"(?:this|it)\s+sounds\s+like(?:\s+you\s+have)?|you(?:'re|\s+are)\s+(?:having|experiencing)|"
    rf"usted\s+tiene|esto\s+es|es\s+una?)\s+(?:a\s+|an\s+|una?\s+)?(?:{DIAGNOSES}|migraña|infección|gripe|ansiedad)\b")
_INTERPRET = Pattern(
    rf"\b(?:your|the|tus?|sus?)\s+(?:\w+\s+){{0,2}}?(?:{TEST.pattern}|results?|levels?|labs?|numbers|scan|"
    rf"blood\s*work|tests?|resultados?|análisis)\s+(?:is|are|was|were|came\s+back|look|looks|looked|seem|seems|"
    rf"está|están|salieron)\s+(?:\w+\s+)?(?:normal|fine|good|great|ok|okay|high|low|elevated|abnormal|negative|"
    rf"positive|benign|clear|stable|healthy|perfect|bien|normales?)\b")


def check(ctx: OutputContext) -> list[Finding]:
    """Block clinical decisions the clinician has not made: they belong in the clinician's own words."""
    findings: list[Finding] = []
    source = ctx.source
    rules = (
        ("dose_change", _DOSE_CHANGE, "changes a dose", "Only the prescriber can change a dose; remove or confirm."),
        ("start_stop", _START_STOP, "tells the patient to start or stop a medicine",
         "Remove it, or confirm it is your instruction."),
        ("diagnosis", _DIAGNOSIS, "states a diagnosis", "Rephrase as something the care team will assess."),
    )
    for code, pattern, what, suggestion in rules:
        for start, end in pattern.finditer(ctx.draft):
            if code == "start_stop" and conditional(ctx.draft, start):
                continue  # "if you stopped your medicine, tell us" is a question, not an order
            if in_source(ctx.draft[start:end], source):
                continue
            findings.append(Finding(check="directives", severity=Severity.BLOCK, code=code, span=(start, end),
                                    message=f"The draft {what} that is not in the message or chart.",
                                    suggestion=suggestion))
            break
    for start, end in _INTERPRET.finditer(ctx.draft):
        said = ctx.draft[start:end]
        test = TEST.search(said)
        if test and in_source(said[test[0]:test[1]], ctx.context_text) and in_source(said, source):
            continue
        if not test and ctx.context_text.strip() and in_source(said, source):
            continue
        findings.append(Finding(check="directives", severity=Severity.BLOCK, code="test_interpretation",
                                span=(start, end), message="The draft interprets a test result that was not supplied.",
                                suggestion="Say the clinician will review the result with the patient."))
        break
    return findings
