"""Messages that are not clinical questions: administrative requests and messages needing no reply."""

from __future__ import annotations

import re

from guardrails.context import InputContext
from guardrails.finding import Finding, Severity

_ADMIN = re.compile(
    r"\b(?:bill(?:s|ing|ed)?|invoice|statement|insurance|copay|co-pay|deductible|charged?|payment|refund|"
    r"(?:medical |my )?records?|forms?|paperwork|fmla|disability|work note|note for (?:work|school)|school note|"
    r"jury duty|letters?|prior auth\w*|referral (?:paperwork|form)|factura|seguro|pago|formulario|expediente|"
    r"password|log ?in|portal|access to my|change my pharmacy|update my (?:address|phone|number|email|info)|"
    r"(?:my )?(?:number|address|phone) changed|spelled wrong|visit summary|cancel my appointment|reschedule|"
    r"note excusing|return to work|excuse (?:note|letter))\b",
    re.IGNORECASE)
# Requests that are administrative even when the message also mentions a symptom ("a letter for my back pain").
_STRONG_ADMIN = re.compile(
    r"\b(?:(?:excuse|work|school|jury\s+duty)\s+(?:letter|note)|letter\s+(?:for|saying|stating)|carta\s+para|"
    r"fmla|disability\s+(?:form|paperwork)|emergency\s+contact|update\s+my|actualic\w*|what'?s\s+my\s+mrn|"
    r"medicaid|medicare|do\s+you\s+take|in\s+the\s+app|portal|password)\b", re.IGNORECASE)
_CLINICAL = re.compile(
    r"\b(?:pain|hurts?|fever|bleeding|symptoms?|rash|cough\w*|dizz\w*|swell\w*|dose|worse|breath\w*|dolor|"
    r"fiebre|chest|vomit\w*)\b", re.IGNORECASE)
# Words an acknowledgement is made of; a message made only of these (and a name or two) needs no reply.
_ACK_WORDS = frozenset((
    "ok okay k got it thanks thank you so much very thx ty great perfect sounds good will do see then tomorrow "
    "monday tuesday wednesday thursday friday saturday sunday next week noted received understood gracias muchas "
    "doctora "
    "perfecto de acuerdo entendido too have a nice day weekend appreciate doctor dr again all everything for your "
    "help the info information update awesome wonderful cool yes sure alright all right hasta luego bye take care "
    "and staff team nurse everyone kind doc that helps news message quick reply calling me back yesterday good now "
    "heard received it's its all"
).split())
_ACK_CUE = re.compile(r"\b(?:ok(?:ay)?|got it|thanks?|thank you|thx|see you|noted|gracias|perfecto|sounds good|"
                      r"will do|appreciate)\b", re.IGNORECASE)
_WORDS = re.compile(r"[A-Za-zÀ-ÿ']+")


_NEVER_MIND = re.compile(r"\b(?:disregard|ignore|cancel|never\s*mind)\b[^.!?]{0,20}\b(?:my|the)\s+(?:last|earlier|"
                         r"previous)?\s*(?:message|request|question)", re.IGNORECASE)


def _needs_no_reply(text: str) -> bool:
    if len(text) <= 40 and not _WORDS.search(text):
        return True  # an emoji or a thumbs-up
    if len(text) <= 200 and _NEVER_MIND.search(text) and "?" not in text:
        return True
    if len(text) > 160 or "?" in text or not _ACK_CUE.search(text):
        return False
    words = _WORDS.findall(text)
    others = [w for w in words if w.lower() not in _ACK_WORDS]
    # Allow a name or two ("Thanks Dr Patel!"), nothing else.
    return 0 < len(words) <= 14 and len(others) <= 2 and all(w[:1].isupper() for w in others)


def check(ctx: InputContext) -> list[Finding]:
    """Label administrative requests (route to the front office) and messages that need no reply."""
    text = ctx.text.strip()
    if _needs_no_reply(text):
        return [Finding(check="scope", severity=Severity.INFO, code="no_reply", target="message",
                        message="This message looks like an acknowledgement that needs no clinical reply.",
                        suggestion="A short courteous reply, or none, is enough.")]
    weak = _ADMIN.search(text)
    admin = _STRONG_ADMIN.search(text) or (weak if weak and not _CLINICAL.search(text) else None)
    if admin:
        return [Finding(check="scope", severity=Severity.INFO, code="administrative", target="message",
                        span=admin.span(), message="Administrative request (billing, insurance, records or forms).",
                        suggestion="Route it to the front office; the reply should say who will follow up.")]
    return []
