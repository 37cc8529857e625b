"""Prompt-injection signals in the patient's text. Flag, never obey: the text stays data."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

from guardrails.context import InputContext
from guardrails.finding import Finding, Severity


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE)


SIGNALS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("override", "asks to ignore or replace the instructions",
     _p(r"\b(?:ignore|disregard|forget|override|bypass|skip)\b[^.!?\n]{0,40}"
        r"\b(?:instructions?|prompts?|rules|guidelines|directions|guardrails|system\s+message|everything\s+(?:above|before))\b")),
    ("role_play", "tries to give the assistant a new role",
     _p(r"\byou\s+are\s+now\b|\bact\s+as\s+(?:an?\s+)?(?:unfiltered|unrestricted|different|evil|new)\b|\bpretend\s+(?:to\s+be|you\s+are)\b"
        r"|\bdeveloper\s+mode\b|\bjailbreak\w*\b|\bDAN\b|\bfrom\s+now\s+on,?\s+you\b|\bnew\s+instructions?\s*:")),
    ("fake_tag", "contains chat-format or system tags",
     _p(r"</?\s*(?:system|assistant|user|instructions?|patient_message|message)\s*>|\[/?(?:system|inst|INST)\]"
        r"|<\|(?:im_start|im_end|system|assistant|user|start_of_turn|end_of_turn)\|?>|<(?:start|end)_of_turn>"
        r"|^\s*#{2,}\s*(?:system|instructions?)\b|^\s*(?:system|assistant)\s*:")),
    ("prompt_leak", "asks for the system prompt or hidden instructions",
     _p(r"\b(?:reveal|print|show|repeat|output|tell\s+me)\b[^.!?\n]{0,30}\b(?:system\s+prompt|your\s+(?:prompt|instructions|rules))\b")),
    ("aimed_at_model", "addresses the AI or the reviewer directly",
     _p(r"\b(?:dear|hey|to\s+the|attention)\s+(?:ai|assistant|chatbot|bot|model|language\s+model|gpt|llm)\b"
        r"|\b(?:ai|assistant|model|chatbot)\s*[,:]\s*(?:please\s+)?(?:write|say|tell|reply|respond|approve|prescribe)\b"
        r"|\b(?:approve|auto-?approve|sign\s+off\s+on)\s+this\s+(?:draft|message|reply|request)\s+(?:without|immediately)")),
    ("template_syntax", "contains template syntax",
     _p(r"\{\{.*?\}\}|\{%.*?%\}")),
)

_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")
_SUSPICIOUS_DECODED = _p(r"ignore|instruction|system|assistant|prompt|approve|you are")


def _hidden_characters(text: str) -> list[tuple[int, int]]:
    """Spans of zero-width and bidirectional-control characters, used to hide text from readers."""
    return [(i, i + 1) for i, ch in enumerate(text) if unicodedata.category(ch) == "Cf" and ch != "\u00ad"]


def _encoded_instructions(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _BASE64.finditer(text):
        blob = match.group(0)
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if _SUSPICIOUS_DECODED.search(decoded):
            spans.append(match.span())
    return spans


def check(ctx: InputContext) -> list[Finding]:
    """Flag text that tries to steer the model or the reviewer instead of asking for care."""
    findings = []
    for code, label, pattern in SIGNALS:
        match = pattern.search(ctx.text)
        if match:
            findings.append(Finding(
                check="injection", severity=Severity.WARN, code=code, target="message", span=match.span(),
                message=f"The message {label}; it was treated as patient text, not as instructions.",
                suggestion="Read the draft closely: it must answer the patient, not follow the embedded text.",
            ))
    for code, label, spans in (
        ("hidden_text", "contains invisible characters that can hide text", _hidden_characters(ctx.text)),
        ("encoded", "contains encoded text that decodes to instructions", _encoded_instructions(ctx.text)),
    ):
        if spans:
            findings.append(Finding(
                check="injection", severity=Severity.WARN, code=code, target="message", span=spans[0],
                message=f"The message {label} ({len(spans)} place{'s' if len(spans) > 1 else ''}).",
                suggestion="Read the original message carefully.",
            ))
    return findings
