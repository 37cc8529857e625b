"""An emergency message must be answered with where to get help now."""

from __future__ import annotations

import re

from guardrails.context import OutputContext, PracticePolicy
from guardrails.finding import Finding, Severity, Urgency

_CRISIS_CODES = frozenset({"self_harm", "overdose"})  # the inserted sentence speaks to both
_NEEDS_CRISIS_LINE = frozenset({"self_harm"})  # 988 is the crisis line; an accidental overdose needs 911
_DIGITS = re.compile(r"\d+")


def _mentions(draft: str, number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    if digits and len(digits) >= 3:
        # Digits written together are together once the other characters are removed; only "9-1-1" needs that.
        return digits in draft or digits in "".join(_DIGITS.findall(draft))
    return number.lower() in draft.lower()


def required_numbers(urgency: Urgency, codes: frozenset[str], practice: PracticePolicy) -> list[str]:
    """The numbers an emergency reply must name: the emergency number, plus the crisis line for self-harm."""
    if urgency is not Urgency.EMERGENCY:
        return []
    numbers = [practice.emergency_number]
    if codes & _NEEDS_CRISIS_LINE:
        numbers.append(practice.crisis_line)
    return numbers


def guidance_text(codes: frozenset[str], practice: PracticePolicy) -> str:
    """The sentence inserted by policy when a draft for an emergency leaves the guidance out."""
    if codes & _CRISIS_CODES:
        return (f"If you are thinking about harming yourself or may have taken too much of something, please call or "
                f"text {practice.crisis_line} (Suicide & Crisis Lifeline) or call {practice.emergency_number} now. "
                "Please do not wait for a reply to this message.")
    return (f"What you describe can be an emergency: please call {practice.emergency_number} or go to the nearest "
            "emergency room now. Please do not wait for a reply to this message.")


def ensure(
    draft: str, urgency: Urgency, codes: frozenset[str], practice: PracticePolicy
) -> tuple[str, tuple[int, int] | None]:
    """Prepend the emergency guidance when required and missing; return the text and the inserted span."""
    missing = [n for n in required_numbers(urgency, codes, practice) if not _mentions(draft, n)]
    if not missing:
        return draft, None
    sentence = guidance_text(codes, practice)
    return f"{sentence}\n\n{draft}", (0, len(sentence))


def check(ctx: OutputContext) -> list[Finding]:
    """Block an emergency draft that does not tell the patient where to get help now."""
    missing = [n for n in required_numbers(ctx.urgency, ctx.urgency_codes, ctx.practice) if not _mentions(ctx.draft, n)]
    if not missing:
        return []
    return [Finding(
        check="emergency_guidance", severity=Severity.BLOCK, code="missing",
        message=f"The patient describes an emergency, but the draft does not mention {', '.join(missing)}.",
        suggestion=guidance_text(ctx.urgency_codes, ctx.practice),
    )]
