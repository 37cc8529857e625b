"""Tone markers counted in eval metrics: does a draft acknowledge the patient, and treat them as a partner?

Deliberately separate from the guardrails (which flag a missing acknowledgement): these are positive markers,
counted so that a template change that makes drafts colder shows up even when no guardrail fires.
"""

from __future__ import annotations

import re

from guardrails.checks._text import WORD

ACKNOWLEDGEMENT = re.compile(
    r"\b(?:sorry|i\s+understand|understandabl[ey]|thank\s+you\s+for|thanks\s+for|that\s+sounds|i\s+can\s+imagine|"
    r"it\s+makes\s+sense|must\s+be|i\s+hear\s+you|worr(?:y|ied|ying)|frustrat\w*|siento|lamento|entiendo|"
    r"comprendo|gracias\s+por)\b", re.IGNORECASE)
PARTNERSHIP = re.compile(
    r"\b(?:together|questions?|your\s+(?:thoughts|preferences?|goals|choice)|what\s+(?:works|matters)\s+(?:for|to)\s+"
    r"you|options|decide|talk\s+(?:it\s+)?(?:through|over)|let\s+us\s+know|you\s+know\s+your\s+body|"
    r"juntos|preguntas?|opciones|decidir)\b", re.IGNORECASE)


def acknowledges(draft: str) -> bool:
    """True when the draft carries an acknowledgement marker."""
    return ACKNOWLEDGEMENT.search(draft) is not None


def partners(draft: str) -> bool:
    """True when the draft invites the patient into the decision or to ask questions."""
    return PARTNERSHIP.search(draft) is not None


def word_count(draft: str) -> int:
    """Words in the draft."""
    return len(WORD.findall(draft))
