"""Small text helpers shared by checks: clause boundaries, sentences, words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

_CLAUSE_BREAK = re.compile(r"[.!?;\n>]|\b(?:but|however|although|though|except)\b", re.IGNORECASE)
WORD = re.compile(r"[A-Za-zÀ-ÿ']+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*", re.MULTILINE)
# "should" is not here: "you should stop taking it" is an order, "should it get worse" is rare in drafts.
_CONDITIONAL = re.compile(r"\b(?:if|in case|unless|whenever|when|si)\b", re.IGNORECASE)


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around text[start:end]: from the previous break to the next one."""
    left = 0
    for match in _CLAUSE_BREAK.finditer(text, 0, start):
        left = match.end()
    nxt = _CLAUSE_BREAK.search(text, end)
    return left, (nxt.start() if nxt else len(text))


def sentence_bounds(text: str, start: int) -> tuple[int, int]:
    """The sentence containing position `start`."""
    left = max(text.rfind(".", 0, start), text.rfind("!", 0, start), text.rfind("?", 0, start),
               text.rfind("\n", 0, start)) + 1
    ends = [i for i in (text.find(c, start) for c in ".!?\n") if i >= 0]
    return left, (min(ends) + 1 if ends else len(text))


def conditional(text: str, start: int) -> bool:
    """True when the sentence holding `start` is conditional ("if it gets worse, call 911")."""
    left, _ = sentence_bounds(text, start)
    return bool(_CONDITIONAL.search(text, left, start))


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the sentences of a text."""
    for match in _SENTENCE.finditer(text):
        if match.group(0).strip():
            yield match.span()


def sentence_count(text: str) -> int:
    """How many spans `sentences` yields; counted from strings, which is faster than from match objects."""
    return sum(1 for _ in filter(str.strip, _SENTENCE.findall(text)))


@lru_cache(maxsize=256)
def words(text: str) -> tuple[str, ...]:
    """Words of the text, apostrophes kept; cached because several checks read the words of the same draft."""
    return tuple(WORD.findall(text))


@lru_cache(maxsize=256)
def lower_words(text: str) -> tuple[str, ...]:
    """`words` lower-cased; an ASCII text is lower-cased first (the same words: A-Z and a-z are both in WORD)."""
    if text.isascii():
        return tuple(WORD.findall(text.lower()))
    return tuple(map(str.lower, words(text)))


_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=256)
def squashed(text: str) -> str:
    """Lower-case text without white space; cached because one source is searched for many terms."""
    return _SPACE.sub("", text.lower())


def in_source(term: str, source: str) -> bool:
    """Case-insensitive containment, tolerant of spacing ("500mg" vs "500 mg")."""
    return _SPACE.sub("", term.lower()) in squashed(source)
