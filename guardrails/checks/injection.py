"""Prompt-injection signals in the patient's text. Flag, never obey: the text stays data.

Obfuscation is undone before matching: letters spaced apart ("i g n o r e"), leetspeak ("1gn0r3"),
look-alike Cyrillic letters, and base64 blobs that decode to text.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

from guardrails.checks._prefilter import Pattern
from guardrails.context import InputContext
from guardrails.finding import Finding, Severity


def _p(pattern: str) -> Pattern:
    # Case-insensitive, as before, so the sources are written in lower case ("dan" matched "DAN" under IGNORECASE).
    return Pattern(pattern, flags=re.MULTILINE)


_RULES = (r"(?:instructions?|prompts?|rules|guidelines|directions|guardrails|programming|system\s+message|"
          r"safety\s+(?:stuff|rules|script)|everything\s+(?:above|before)|the\s+above)")
SIGNALS: tuple[tuple[str, str, Pattern], ...] = (
    ("override", "asks to ignore or replace the instructions", _p(
        r"\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon)\b[^.!?\n]{0,40}\b" + _RULES + r"\b"
        r"|\b(?:new|updated|real)\s+instructions?\s*(?::|from\s+(?:the\s+)?(?:admin|developers?|system|drafter|openai))"
        r"|\bsystem\s+override\b|\bguardrails?\s+(?:are\s+)?(?:disabled|off)\b"
        r"|\bfor\s+testing\s+purposes\b|\bpermission\s+to\s+break\s+(?:your|the)\s+rules\b|\bskip\s+the\s+(?:safety|emergency)"
        r"|\b(?:olvida|ignora|omite|descarta)\w*\s+(?:todas\s+)?(?:tus|las|sus)\s+(?:reglas|instrucciones)"
        r"|\bignorez\s+les\s+instructions\b|\bend\s+of\s+(?:the\s+)?patient\s+message\b|\bi'?m\s+instructing\s+you\b"
        r"|\bsystem\s+administrator\b|\bdisable\s+(?:the\s+)?(?:phi\s+)?(?:redaction|filters?|safety)\b"
        r"|\ba\s+partir\s+de\s+ahora\b|\bcompliance\s+audit\b")),
    ("role_play", "tries to give the assistant a new role", _p(
        r"\byou\s+are\s+now\b|\byou\s+are\s+no\s+longer\b|\bact\s+as\s+(?:an?\s+)?(?:unfiltered|unrestricted|different|evil|new|my)\b"
        r"|\bpretend\s+(?:to\s+be|you\s+are|you're|the\s+clinician|that)\b|\bdeveloper\s+mode\b|\bjailbreak\w*\b|\bdan\b"
        r"|\bfrom\s+now\s+on,?\s+you\b|\brole\s?-?play\b|\bunrestricted\s+(?:medical\s+)?(?:ai|assistant|model|mode)\b"
        r"|\bas\s+if\s+you\s+were\s+(?:my|a|the)\s+(?:doctor|physician|clinician)\b|\bahora\s+eres\b"
        r"|\blet'?s\s+play\s+a\s+game\b|\byou\s+are\s+\w*bot\b")),
    ("fake_tag", "contains chat-format or system tags", _p(
        r"</?\s*(?:system|assistant|user|instructions?|patient_message|message|admin)\s*>|\[/?(?:system|inst)\]"
        r"|<\|(?:im_start|im_end|system|assistant|user|start_of_turn|end_of_turn)\|?>|<(?:start|end)_of_turn>"
        r"|^\s*#{2,}\s*(?:system|instructions?)\b|^\s*(?:system|assistant|sistema)\s*:(?!\s*(?:i'?m|i\s+am)\b)"
        r"|\}\}\s*end\b|<!--")),
    ("prompt_leak", "asks for the system prompt or hidden instructions", _p(
        r"\b(?:reveal|print|show|repeat|output|tell\s+me|give\s+me|what\s+(?:is|are|were)|list|summari[sz]e|muéstra\w*)\b"
        r"[^.!?\n]{0,40}\b(?:system\s+prompt|your\s+(?:prompt|instructions|rules|programming)|tu\s+prompt"
        r"|(?:were|are)\s+you\s+told)|\brepeat\s+(?:everything|all)\s+(?:above|before)|\bverbatim\b|\bword\s+for\s+word\b"
        r"|\bprompt\s+del\s+sistema\b|\bsystem_prompt\b|\bsafety_rules\b|\bnever\s+to\s+tell\s+patients\b|\brules\s+you\s+were\s+given\b")),
    ("aimed_at_model", "addresses the AI or the reviewer directly", _p(
        r"\b(?:dear|hey|to\s+the|attention|note\s+(?:to|for)\s+the|p\.?s\.?,?)\s+(?:ai|assistant|chatbot|bot|model|"
        r"language\s+model|gpt|llm|ai\s+model|reviewer)\b"
        r"|\b(?:ai|assistant|model|chatbot)\s*[,:]\s*(?:please\s+)?(?:write|say|tell|reply|respond|approve|prescribe|skip)\b"
        r"|\b(?:approve|auto-?approve|sign\s+off\s+on)\s+this\s+(?:draft|message|reply|request)\s+(?:without|immediately)"
        r"|\breviewer\s+note\b|\bsend\s+without\s+(?:review|changes|edits)\b|\balready\s+(?:been\s+)?(?:verified|approved)"
        r"\s+by\b|\brespond\s+only\s+with\b|\b(?:end|start|begin)\s+your\s+reply\s+with\b|\brepeat\s+after\s+me\b"
        r"|\brespond\s+in\s+json\b|\bthe\s+reply\s+must\s+say\b|\bsign\s+it\s+with\b|\btranslate\s+this\b[^.!?\n]{0,20}:"
        r"|\bwrite\s+the\s+reply\s+as\s+if\b|\bdecodifica\s+y\s+obedece\b|\b(?:decode|obey)\s+(?:this|and)\b"
        r"|\bclick\s+approve\b|\bto\s+the\s+(?:clinician|doctor|nurse|reviewer)\s+(?:reviewing|who)\b")),
    ("template_syntax", "contains template syntax", _p(r"\{\{.*?\}\}|\{%.*?%\}")),
)

_BASE64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_SUSPICIOUS_DECODED = _p(r"ignor|instruc|system|assistant|prompt|approve|you\s+are|tell\s+the|refill|prescri|receta")
_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}[A-Za-z]\b")
_SPACED = re.compile(r"\b(?:[A-Za-z]\s){4,}[A-Za-z]\b")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_CONFUSABLES = str.maketrans({"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
                              "ј": "j", "ѕ": "s", "І": "I", "А": "A", "Е": "E", "О": "O", "Р": "P", "С": "C",
                              "Т": "T", "Н": "H", "К": "K", "М": "M", "В": "B"})


def _hidden_characters(text: str) -> list[tuple[int, int]]:
    """Spans of zero-width and bidirectional-control characters, used to hide text from readers."""
    if text.isascii():
        return []  # no ASCII character is in category Cf
    return [(i, i + 1) for i, ch in enumerate(text) if unicodedata.category(ch) == "Cf" and ch != "\u00ad"]


def _decoded_blobs(text: str) -> list[tuple[tuple[int, int], str]]:
    found = []
    for match in _BASE64.finditer(text):
        blob = match.group(0)
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() or "\n" in decoded:
            found.append((match.span(), decoded))
    return found


def _variants(text: str) -> list[str]:
    """The text as written plus de-obfuscated readings of it."""
    variants = [text]
    undotted = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    unspaced = _SPACED.sub(lambda m: m.group(0).replace(" ", ""), undotted)
    if unspaced != text:
        variants.append(unspaced)
    if any(map(str.isdigit, text)) and re.search(r"[a-z][0-9][a-z]|[0-9][a-z]{2}", text, re.IGNORECASE):
        variants.append(text.translate(_LEET))
    confused = text.translate(_CONFUSABLES)
    if confused != text:
        variants.append(confused)
    return variants


def check(ctx: InputContext) -> list[Finding]:
    """Flag text that tries to steer the model or the reviewer instead of asking for care."""
    findings = []
    variants = _variants(ctx.text)
    for code, label, pattern in SIGNALS:
        for i, variant in enumerate(variants):
            span = pattern.search(variant)
            if span:
                obfuscated = i > 0
                findings.append(Finding(
                    check="injection", severity=Severity.WARN, code=code, target="message",
                    span=None if obfuscated else span,
                    message=f"The message {label}{' (disguised)' if obfuscated else ''}; it was treated as patient "
                            "text, not as instructions.",
                    suggestion="Read the draft closely: it must answer the patient, not follow the embedded text.",
                ))
                break
    hidden = _hidden_characters(ctx.text)
    if hidden:
        findings.append(Finding(
            check="injection", severity=Severity.WARN, code="hidden_text", target="message", span=hidden[0],
            message=f"The message contains invisible characters that can hide text ({len(hidden)} place"
                    f"{'s' if len(hidden) > 1 else ''}).", suggestion="Read the original message carefully."))
    for span, decoded in _decoded_blobs(ctx.text):
        if _SUSPICIOUS_DECODED.search(decoded):
            findings.append(Finding(
                check="injection", severity=Severity.WARN, code="encoded", target="message", span=span,
                message="The message contains encoded text that decodes to instructions.",
                suggestion="Read the original message carefully; do not follow the decoded text."))
            break
    return findings
