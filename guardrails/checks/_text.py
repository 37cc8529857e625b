"""Small text helpers shared by checks: clause boundaries and word spans."""

from __future__ import annotations

import re

_CLAUSE_BREAK = re.compile(r"[.!?;\n]|\b(?:but|however|although|though|except)\b", re.IGNORECASE)
WORD = re.compile(r"[A-Za-zÀ-ÿ']+")


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around text[start:end]: from the previous break to the next one."""
    left = 0
    for match in _CLAUSE_BREAK.finditer(text, 0, start):
        left = match.end()
    nxt = _CLAUSE_BREAK.search(text, end)
    return left, (nxt.start() if nxt else len(text))


def words(text: str) -> list[str]:
    """Words of the text, apostrophes kept."""
    return WORD.findall(text)
