"""Urgency triage of the patient message: emergency, urgent same-day, or routine.

Deterministic patterns for the presentations that must never wait in an inbox, with three guards
that keep ordinary messages quiet: negation ("no chest pain"), history ("chest pain last year") and
co-occurrence rules where one word alone is not enough (a stiff neck needs a fever). Third person
("my dad has chest pain") is as urgent as first person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guardrails.checks._text import clause_bounds
from guardrails.context import InputContext
from guardrails.finding import Finding, Severity, Urgency


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    level: Urgency
    label: str
    pattern: re.Pattern[str]
    requires: re.Pattern[str] | None = None  # must also appear somewhere in the message


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_WHO = r"(?:my|his|her|their|the|your)"
_FEVER = _p(r"\b(?:fever\w*|temp(?:erature)?\s+(?:of\s+)?(?:10[0-9]|3[89])|feverish|febrile)\b")

RULES: tuple[Rule, ...] = (
    Rule("chest_pain", Urgency.EMERGENCY, "chest pain or pressure",
         _p(rf"\bchest\s+(?:pains?|pressure|tightness|hurts?|hurting|is\s+tight)\b|\bpain\s+in\s+{_WHO}\s+chest\b"
            r"|\bcrushing\s+(?:pain|pressure)\b|\bheart\s+attack\b|\bchest\s+(?:pian|pian?s)\b")),
    Rule("breathing", Urgency.EMERGENCY, "trouble breathing",
         _p(r"\b(?:can'?t|cannot|can\s+not|cant|unable\s+to|hard\s+to|struggling\s+to)\s+(?:breath|breathe|brethe)\b"
            r"|\b(?:trouble|difficulty|problems?)\s+breath(?:e|ing)\b|\bshort(?:ness)?\s+of\s+breath\b|\bgasping\b"
            r"|\b(?:turning|lips?\s+(?:are|is|turning))\s+blue\b")),
    Rule("stroke", Urgency.EMERGENCY, "possible stroke signs",
         _p(r"\b(?:face|facial)\s+(?:is\s+)?droop\w*|\bslurr(?:ed|ing)\s+(?:speech|words|his|her|my)?\b"
            r"|\bone\s+side\s+(?:of\s+(?:my|his|her|the)\s+(?:body|face)\s+)?(?:is\s+|went\s+|feels\s+)?(?:numb|weak|limp)"
            r"|\b(?:having|had|is\s+having)\s+a\s+stroke\b|\bsudden(?:ly)?\s+(?:can'?t|cannot)\s+(?:see|speak|talk|move)"
            r"|\bsudden(?:ly)?\s+(?:lost|loss\s+of)\s+(?:vision|sight|speech)")),
    Rule("bleeding", Urgency.EMERGENCY, "severe bleeding",
         _p(r"\bbleed\w*\b[^.!?\n]{0,30}\b(?:won'?t|will\s+not|doesn'?t|does\s+not|isn'?t|not)\s+stop"
            r"|\b(?:heavy|severe|lots\s+of|a\s+lot\s+of|uncontrolled|gushing)\s+(?:bleeding|blood)\b"
            r"|\b(?:coughing|vomiting|throwing)\s+(?:up\s+)?blood\b")),
    Rule("anaphylaxis", Urgency.EMERGENCY, "severe allergic reaction",
         _p(r"\b(?:throat|tongue|lips?)\s+(?:is\s+|are\s+|feels?\s+)?(?:swell\w*|swollen|closing|tight)"
            r"|\banaphyla\w*|\bused\s+(?:my|an|his|her)\s+epi-?pen\b")),
    Rule("self_harm", Urgency.EMERGENCY, "thoughts of suicide or self-harm",
         _p(r"\b(?:kill|killing|hurt|hurting|harm|harming|cut|cutting)\s+(?:my\s?self|him\s?self|her\s?self)\b"
            r"|\bsuicid\w*|\bend\s+(?:my|his|her)\s+life\b|\bend\s+it\s+all\b"
            r"|\b(?:don'?t|do\s+not|dont)\s+want\s+to\s+(?:live|be\s+alive|be\s+here|wake\s+up)\b"
            r"|\bbetter\s+off\s+dead\b|\bwant\s+to\s+die\b|\bno\s+reason\s+to\s+live\b")),
    Rule("overdose", Urgency.EMERGENCY, "possible overdose or poisoning",
         _p(r"\bover\s?dos\w*|\b(?:took|swallowed|ate|drank|taken)\b[^.!?\n]{0,40}"
            r"\b(?:too\s+many|whole\s+bottle|entire\s+bottle|handful|double\s+dose|all\s+(?:of\s+)?(?:my|his|her|the)\s+(?:pills|tablets|meds))"
            r"|\bpoison(?:ed|ing)\b|\b(?:drank|swallowed)\s+(?:bleach|antifreeze|cleaner|detergent)")),
    Rule("seizure", Urgency.EMERGENCY, "seizure",
         _p(r"\b(?:having|had|has|is\s+having)\s+(?:a\s+)?(?:seizure|convulsion|fit)s?\b|\bseizing\b|\bconvulsing\b")),
    Rule("fainting", Urgency.EMERGENCY, "fainting or unresponsive",
         _p(r"\b(?:fainted|fainting|passed\s+out|blacked\s+out|lost\s+consciousness|unconscious|unresponsive"
            r"|won'?t\s+wake\s+up|can'?t\s+wake\s+(?:him|her|them))\b")),
    Rule("infant_fever", Urgency.EMERGENCY, "fever in a baby under 3 months",
         _p(r"\b(?:newborn|new\s+born|(?:[1-9]|1[0-2])\s*-?\s*(?:weeks?|wks?)\s*-?\s*old|\d{1,2}\s*-?\s*days?\s*-?\s*old"
            r"|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s*-?\s*weeks?\s*-?\s*old"
            r"|(?:1|2|one|two)\s*-?\s*months?\s*-?\s*old)\b"),
         requires=_FEVER),
    Rule("pregnancy", Urgency.EMERGENCY, "pregnancy warning sign",
         _p(r"\b(?:baby|fetus)\b[^.!?\n]{0,30}\b(?:not\s+moving|isn'?t\s+moving|stopped\s+moving|moving\s+less|hasn'?t\s+moved)"
            r"|\b(?:reduced|decreased|less|no)\s+(?:fetal|baby)\s+movements?\b"
            r"|\bwater\s+(?:broke|has\s+broken)\b"
            r"|\bpregnan\w*\b[^.!?\n]{0,60}\bbleed\w*|\bbleed\w*\b[^.!?\n]{0,60}\bpregnan\w*")),
    Rule("worst_headache", Urgency.EMERGENCY, "sudden severe headache",
         _p(r"\bworst\s+headache\b|\bthunderclap\b|\bsudden\w*\s+(?:severe|terrible|excruciating|explosive)\s+headache\b")),
    Rule("fever_stiff_neck", Urgency.EMERGENCY, "fever with a stiff neck",
         _p(r"\bstiff\s+neck\b|\bneck\s+is\s+stiff\b|\bcan'?t\s+(?:bend|touch)\s+(?:my|his|her)\s+chin\b"),
         requires=_FEVER),
    Rule("high_fever", Urgency.URGENT, "high or lasting fever",
         _p(r"\b(?:fever|temp\w*)\s+(?:of\s+|is\s+|was\s+|at\s+)?(?:10[3-6]|39\.[5-9]|4[01])\b"
            r"|\bfever\s+(?:for|since)\s+(?:[3-9]|three|four|five|six|seven)\s+days\b")),
    Rule("severe_pain", Urgency.URGENT, "severe pain",
         _p(r"\b(?:severe|unbearable|excruciating|intense|terrible)\s+(?:\w+\s+)?pain\b|\bpain\s+is\s+(?:unbearable|severe)\b"
            r"|\b(?:10|ten)\s*(?:/|out\s+of)\s*10\b")),
    Rule("dehydration", Urgency.URGENT, "cannot keep fluids down",
         _p(r"\bcan'?t\s+keep\s+(?:anything|fluids|water|food)\s+down\b|\bhaven'?t\s+(?:peed|urinated)\b")),
    Rule("infection_spreading", Urgency.URGENT, "spreading infection signs",
         _p(r"\bred\s+streaks?\b|\bspreading\s+redness\b|\bredness\s+(?:is\s+)?spreading\b|\bpus\b")),
    Rule("blood_in_output", Urgency.URGENT, "blood in urine or stool",
         _p(r"\bblood\s+in\s+(?:my\s+|his\s+|her\s+)?(?:urine|stool|pee|poop)\b|\bblack\s+(?:tarry\s+)?stools?\b")),
    Rule("allergic_reaction", Urgency.URGENT, "allergic reaction",
         _p(r"\ballergic\s+reaction\b|\bbroke\s+out\s+in\s+hives\b")),
)

_NEGATION = _p(r"\b(?:no|not|never|denies|deny|denied|without|free\s+of|negative\s+for|don'?t\s+have|do\s+not\s+have"
               r"|doesn'?t\s+have|haven'?t\s+had|hasn'?t\s+had|didn'?t\s+have|nor)\b")
_HISTORY = _p(r"\b(?:(?<!since\s)(?:last|past)\s+(?:year|month|summer|winter|spring|fall|autumn)"
              r"|\d+\s+(?:years?|months?)\s+ago|years?\s+ago|months\s+ago|in\s+the\s+past|used\s+to|history\s+of|back\s+in\s+(?:19|20)\d\d|as\s+a\s+(?:child|kid))\b")
# Words that speak about a condition in general, not about someone having it now.
_GENERAL = _p(r"\b(?:what\s+(?:is|are|causes)|information\s+(?:on|about)|risk\s+of|prevent|signs\s+of|symptoms\s+of)\b")


def _negated(text: str, start: int, clause_start: int) -> bool:
    window = text[clause_start:start]
    tail = " ".join(window.split()[-4:])
    return bool(_NEGATION.search(tail))


def triage(text: str) -> list[tuple[Rule, tuple[int, int], str]]:
    """Every rule that fires, with its span and a qualifier: 'current', 'history' or 'general'."""
    hits: list[tuple[Rule, tuple[int, int], str]] = []
    for rule in RULES:
        if rule.requires is not None and not rule.requires.search(text):
            continue
        for match in rule.pattern.finditer(text):
            start, end = match.span()
            c_start, c_end = clause_bounds(text, start, end)
            if _negated(text, start, c_start):
                continue
            clause = text[c_start:c_end]
            qualifier = "history" if _HISTORY.search(clause) else "general" if _GENERAL.search(clause) else "current"
            hits.append((rule, (start, end), qualifier))
            break  # one span per rule is enough to flag it
    return hits


def check(ctx: InputContext) -> list[Finding]:
    """Flag emergencies and same-day problems; past or general mentions become info notes."""
    findings: list[Finding] = []
    for rule, span, qualifier in triage(ctx.text):
        if qualifier != "current":
            as_what = "past history" if qualifier == "history" else "a general question"
            findings.append(Finding(
                check="urgency", severity=Severity.INFO, code=f"{qualifier}_{rule.code}", target="message", span=span,
                message=f"Mentions {rule.label}, but as {as_what}.",
                suggestion="Confirm it is not happening now.",
            ))
            continue
        emergency = rule.level is Urgency.EMERGENCY
        findings.append(Finding(
            check="urgency", severity=Severity.WARN, code=rule.code, target="message", span=span,
            message=f"{'Emergency' if emergency else 'Same-day'}: the patient describes {rule.label}.",
            suggestion="Contact the patient now; the reply must carry emergency guidance." if emergency
            else "Review today.",
        ))
    return findings


def level_of(findings: list[Finding]) -> Urgency:
    """The triage level implied by urgency findings (codes of current presentations)."""
    codes = {f.code for f in findings if f.check == "urgency"}
    levels = [rule.level for rule in RULES if rule.code in codes]
    return min(levels, key=lambda u: u.rank, default=Urgency.ROUTINE)
