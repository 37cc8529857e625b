"""Messages that are not clinical questions: administrative requests and messages needing no reply."""

from __future__ import annotations

import re

from guardrails.context import InputContext
from guardrails.finding import Finding, Severity

_ADMIN = re.compile(
    r"\b(?:bill(?:s|ing|ed)?|invoice|statement|insurance|copay|co-pay|deductible|charged?|payment|refund|"
    r"(?:medical |my )?records?|forms?|paperwork|fmla|disability|work note|note for (?:work|school)|school note|"
    r"jury duty|letter for|prior auth\w*|referral (?:paperwork|form)|factura|seguro|pago|formulario|expediente)\b",
    re.IGNORECASE)
_CLINICAL = re.compile(
    r"\b(?:pain|hurts?|fever|bleed\w*|symptoms?|rash|cough\w*|dizz\w*|swell\w*|medication|dose|results?|sick|"
    r"worse|breath\w*|dolor|fiebre)\b", re.IGNORECASE)
_NO_REPLY = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|k|got it|thanks?|thank you(?: so much| very much)?|thx|ty|great|perfect|sounds good|"
    r"will do|see you (?:then|on \w+|tomorrow|next week|\w+day)|noted|received|understood|gracias|muchas gracias|"
    r"perfecto|de acuerdo|entendido|you too|have a (?:good|great|nice) (?:day|weekend)|appreciate it|"
    r"doctor|dr\.?|again|all|everything|for|your|help|\w+)[\s,.!:)]*){1,12}$",
    re.IGNORECASE)
_NO_REPLY_CUE = re.compile(r"\b(?:ok(?:ay)?|got it|thanks?|thank you|thx|see you|noted|gracias|perfecto|"
                           r"sounds good|will do|appreciate)\b", re.IGNORECASE)


def check(ctx: InputContext) -> list[Finding]:
    """Label administrative requests (route to the front office) and messages that need no reply."""
    text = ctx.text.strip()
    if len(text) <= 160 and "?" not in text and _NO_REPLY_CUE.search(text) and _NO_REPLY.match(text):
        return [Finding(check="scope", severity=Severity.INFO, code="no_reply", target="message",
                        message="This message looks like an acknowledgement that needs no clinical reply.",
                        suggestion="A short courteous reply, or none, is enough.")]
    admin = _ADMIN.search(text)
    if admin and not _CLINICAL.search(text):
        return [Finding(check="scope", severity=Severity.INFO, code="administrative", target="message",
                        span=admin.span(), message="Administrative request (billing, insurance, records or forms).",
                        suggestion="Route it to the front office; the reply should say who will follow up.")]
    return []
