"""Promises the practice did not make: bookings, refills sent, call-backs at a time, orders placed."""

from __future__ import annotations

import re

from guardrails.checks._prefilter import Pattern
from guardrails.checks._text import conditional
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_ACTION = (r"booked|scheduled|made|set\s+up|sent|called\s+in|ordered|arranged|refilled|renewed|put\s+in|submitted|"
           r"resubmitted|re-?sent|forwarded|approved|faxed|reserved|placed|requested|added|completed|processed|"
           r"signed|filled|taken\s+care\s+of")
_THING = (r"refill|prescription|appointment|referral|order|test|labs?|mri|x-?ray|scan|visit|medication|medicine|"
          r"paperwork|forms?|letter|note|authori[sz]ation|receta|cita")
_WHEN = (r"today|tomorrow|tonight|this\s+(?:morning|afternoon|evening|week)|first\s+thing|on\s+\w+day|"
         r"at\s+\d{1,2}(?::\d\d)?\s*(?:am|pm)?|within\s+(?:\d+|an?|one|two|24|48)\s+(?:hours?|minutes?|days?)|"
         r"by\s+(?:end\s+of\s+)?(?:today|tomorrow|\w+day)|next\s+\w+day|hoy|mañana")
PROMISE = Pattern(
    rf"\b(?:i(?:'ve|\s+have)|we(?:'ve|\s+have)|i\s+just|we\s+just)\s+(?:already\s+)?(?:{_ACTION})\b"
    rf"|\byour\s+(?:\w+\s+){{0,2}}(?:{_THING})\b(?:\s+(?:of|for)\s+\w+(?:\s+\d+\s*\w+)?)?\s+(?:has\s+been|have\s+been|"
    rf"was|were|is|are)\s+(?:already\s+)?(?:{_ACTION}|ready|on\s+its\s+way)\b"
    rf"|\b(?:(?:we|i|the\s+doctor|your\s+doctor|dr\.?\s+\w+|someone|a\s+nurse|the\s+nurse|the\s+office|our\s+office)"
    rf"\s+will|we'll|i'll)\s+(?:\w+ly\s+)?(?:call|see|phone|ring|contact|text|email)\s+you\s+(?:back\s+)?(?:{_WHEN})"
    rf"|\b(?:slot|appointment|spot|time)\s+(?:is\s+)?(?:held|reserved|booked|saved)\s+for\s+you\b"
    rf"|\bwill\s+be\s+(?:fully\s+)?(?:covered|approved)\b|\byou\s+won'?t\s+owe\b"
    rf"|\b(?:you(?:'re|\s+are)\s+(?:booked|scheduled|all\s+set)\s+(?:for|on))"
    rf"|\b(?:the\s+doctor|your\s+doctor|dr\.?\s+\w+|we)\s+(?:will|can)\s+see\s+you\s+(?:{_WHEN})"
    rf"|\b(?:ya\s+(?:le\s+)?(?:envié|enviamos|programé|programamos|agendamos))\b")


def check(ctx: OutputContext) -> list[Finding]:
    """Block commitments the chart context does not confirm; the practice must keep every promise."""
    context = ctx.context_text.lower()
    for start, end in PROMISE.finditer(ctx.draft):
        if conditional(ctx.draft, start):
            continue
        said = ctx.draft[start:end].lower()
        if context and any(word in context for word in re.findall(r"(?:booked|scheduled|sent|ordered|refill|"
                                                                  r"appointment|call)\w*", said)):
            continue  # the chart says it happened
        return [Finding(check="promises", severity=Severity.BLOCK, code="unconfirmed_commitment", span=(start, end),
                        message="The draft promises something the practice has not confirmed.",
                        suggestion="Say what will happen without a booking, time or result you cannot guarantee.")]
    return []
