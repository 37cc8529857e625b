"""The system prompt, template tags or talk about instructions leaking into the draft."""

from __future__ import annotations

from functools import lru_cache

from guardrails.checks._prefilter import Pattern
from guardrails.checks._text import WORD, lower_words
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_TELLS = Pattern(
    r"</?\s*(?:patient_message|chart_context|example_message|example_reply|system|assistant)\s*>"
    r"|\b(?:my|the)\s+(?:system\s+prompt|instructions|guidelines\s+say|rules\s+say)\b|\bsystem\s+prompt\b"
    r"|\bi\s+(?:was|am|have\s+been)\s+(?:instructed|told|programmed)\b|\bas\s+an?\s+(?:ai|language\s+model|assistant)\b"
    r"|\bsafety\s+rules\b|\bi(?:'m|\s+am)\s+not\s+allowed\s+to\b|\bas\s+instructed\b|\bthe\s+patient'?s?\s+message\b"
    r"|\bi(?:'m|\s+am)\s+an?\s+(?:ai|automated|artificial|virtual|drafting|language)\b|\bper\s+my\s+(?:guidelines|"
    r"instructions|rules|programming)\b|\bflagged\s+(?:this|the|your)\s+message\b|\(kind:|\bprompt\s+injection\b"
    r"|\byou\s+are\s+a\s+helpful\s+assistant\b|\bhere'?s\s+(?:the|your|a)\s+draft\b"
    r"|\bseg[uú]n\s+mis\s+instrucciones\b|\bmis\s+instrucciones\b|\bdraft(?:ing)?\s+assistant\b")
SHINGLE = 7
_RUN = b"\x01" * SHINGLE


@lru_cache(maxsize=64)
def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    tokens = [w.lower() for w in WORD.findall(text)]
    return frozenset(tuple(tokens[i:i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


@lru_cache(maxsize=64)
def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in WORD.findall(text))


def _may_copy(draft: str, prompt: str) -> bool:
    """Whether the draft has a shingle of the prompt; cheaper than building all the draft's shingles (~100 µs).

    A copied shingle is SHINGLE words in a row that all occur in the prompt: find those runs (one byte per
    word, searched in C), and look up only the shingles that start there.
    """
    tokens = lower_words(draft)
    in_prompt = bytes(map(_vocabulary(prompt).__contains__, tokens))
    shingles = _shingles(prompt)
    start = in_prompt.find(_RUN)
    while start >= 0:
        if tuple(tokens[start:start + SHINGLE]) in shingles:
            return True
        start = in_prompt.find(_RUN, start + 1)
    return False


def check(ctx: OutputContext) -> list[Finding]:
    """Block a draft that talks about its instructions or copies them."""
    tell = _TELLS.search(ctx.draft)
    if tell:
        return [Finding(check="prompt_leak", severity=Severity.BLOCK, code="instructions", span=tell,
                        message="The draft talks about its instructions or contains template tags.",
                        suggestion="Remove it; patients should read a reply, not the assistant's rules.")]
    if ctx.system_prompt and _may_copy(ctx.draft, ctx.system_prompt):
        copied = _shingles(ctx.draft) & _shingles(ctx.system_prompt)
        if copied:
            phrase = " ".join(next(iter(copied)))
            return [Finding(check="prompt_leak", severity=Severity.BLOCK, code="copied_prompt",
                            message=f"The draft copies the system prompt (\"{phrase}…\").",
                            suggestion="Rewrite the reply in your own words.")]
    return []
