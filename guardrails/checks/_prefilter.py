"""Fast matching for the checks' patterns, with exactly the matches plain `re` would give.

Two things make plain `re` slow on a 150-word draft:

* re.IGNORECASE is about 3.5x slower than a case-sensitive pattern. `Pattern` runs the lower-case pattern over
  the lower-cased text instead, which gives the same spans whenever lower-casing maps every character to one
  character that re treats the same way (see `lowered`); otherwise it falls back to the IGNORECASE pattern.
* A top-level alternative that starts with \\b defeats re's literal-prefix scan, so every alternative is tried
  at every position (about 28 µs per alternative per draft).

`Pattern` reads each top-level alternative once, at import, with re's own parser, and learns:

* what every match contains: a whole word from a small set, a word beginning with some prefix, a literal
  substring, or so many digits in a row. These are tested in C against the text's word set and the text; an
  alternative whose requirements are missing cannot match anywhere, so it is dropped, and usually nothing is
  left to run;
* where every match starts, when that is known: where one of some words (or a word beginning with some
  prefix) starts, after \\b; where a run of digits starts; or at some punctuation character. The regex is then
  tried with `.match` only at those places, in order, resuming after each match: the same leftmost,
  first-alternative, non-overlapping matches `finditer` finds, without trying every position. Otherwise the
  alternatives left are joined into one regex (compiled once per combination) and searched as usual.

Dropping alternatives that match nowhere changes no match, and trying every place where a match can start
finds all of them, so the results are identical. Requirements and starts are looked for in the lower-cased
text, also for case-sensitive patterns (where the text has "Dr", the lower-cased text has "dr"). Whatever
cannot be read (an unfamiliar construct, or a Python without re._parser) gives no requirement and no start:
that alternative always runs, over the whole text.

The text-level work (lower-casing, the words and where they start, digit runs) is cached per text, because
about fourteen checks read each draft.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache, reduce
from itertools import accumulate, chain, compress, islice
from operator import and_, not_
from typing import Any

try:  # the parser re itself uses; only needed to read requirements, never to match
    from re import _parser  # type: ignore[attr-defined,unused-ignore]  # typeshed versions differ
except ImportError:  # pragma: no cover - a future Python: no prefilter, same results
    _parser = None

Span = tuple[int, int]

# Characters for which matching the lower-cased text is not the same as re.IGNORECASE: their lower case is
# several characters (İ) or depends on context (Σ), re treats them as extra case variants of other letters
# (ſ matches s, K matches k, µ matches μ, ...), or lower-casing changes whether they are \w, \s or \d.
# Found by checking every code point under Unicode 14.0 (Python 3.11); a text containing one is matched with
# IGNORECASE. Under another Unicode version the list is not trusted: only ASCII texts are lower-cased.
_CASE_ODDITIES = re.compile(
    "[µİıſͅΐΒΕΘΙΚΜΠΡΣΦΰβεθικμπρςσφϐϑϕϖϰϱϴϵВДОСТЪвдостъѢѣᲀᲁᲂᲃᲄᲅᲆᲇᲈṠṡẛιΐΰꙊꙋﬅﬆ]"
    if unicodedata.unidata_version == "14.0.0" else r"[^\x00-\x7f]")
_WORD_SPLIT = re.compile(r"(\w+)")
_DIGITS = re.compile(r"\d+")


@lru_cache(maxsize=256)
def lowered(text: str) -> str | None:
    """The lower-cased text, or None when a lower-case pattern over it could differ from IGNORECASE."""
    low = text.lower()
    if text.isascii() or (len(low) == len(text) and not _CASE_ODDITIES.search(text)):
        return low
    return None


# Words some Pattern's matches start with (Pattern adds them): only their places are indexed up front.
_START_WORDS: set[str] = set()


@dataclass(frozen=True, slots=True)
class _Words:
    """A text's words (maximal runs of \\w characters, as re's \\b sees them), where they start, and their set."""

    text: str
    words: list[str]
    starts: list[int]
    set: frozenset[str]
    places: dict[str, list[int]]  # where the start words (and any word looked up since) start

    def starts_of(self, word: str) -> list[int]:
        places = self.places.get(word)
        if places is None:  # a word no Pattern starts with (one found by prefix): find it now, in C
            places = self.places[word] = list(compress(self.starts, map(word.__eq__, self.words)))
        return places


@lru_cache(maxsize=256)
def _words_of(text: str) -> _Words:
    parts = _WORD_SPLIT.split(text)  # separator, word, separator, ..., word, separator: no match objects
    words = parts[1::2]
    # Word k starts where separator k ends (the last separator has no word after it).
    starts = list(islice(accumulate(map(len, parts)), 0, len(parts) - 1, 2))
    places: dict[str, list[int]] = {}
    for i in compress(range(len(words)), map(_START_WORDS.__contains__, words)):  # a Python loop over few words
        places.setdefault(words[i], []).append(starts[i])
    return _Words(text, words, starts, frozenset(words), places)


def word_set(text: str) -> frozenset[str]:
    """The text's words: maximal runs of \\w characters, as re's \\b sees them."""
    return _words_of(text).set


@lru_cache(maxsize=256)
def _lowered_words(text: str) -> _Words | None:
    """The words of the lower-cased text (None: see `lowered`): one cache look-up per pattern and text."""
    low = lowered(text)
    return None if low is None else _words_of(low)


@lru_cache(maxsize=256)
def _sorted_words(text: str) -> list[str]:
    """The text's distinct words in order (a C sort), to find those that start with a prefix by bisection."""
    return sorted(word_set(text))


def _with_prefix(text: str, prefix: str) -> Iterator[str]:
    """The text's words that start with `prefix`: together in sorted order, from where the prefix would go."""
    ordered = _sorted_words(text)
    for i in range(bisect_left(ordered, prefix), len(ordered)):
        if not ordered[i].startswith(prefix):
            return
        yield ordered[i]


def _has_prefix(text: str, prefix: str) -> bool:
    ordered = _sorted_words(text)
    i = bisect_left(ordered, prefix)
    return i < len(ordered) and ordered[i].startswith(prefix)


def _places_of(text: str, char: str) -> Iterator[int]:
    """Where a character occurs in the text (str.find: a C scan)."""
    place = text.find(char)
    while place >= 0:
        yield place
        place = text.find(char, place + 1)


_LETTERS = re.compile("[a-z]+")


@lru_cache(maxsize=256)
def letter_runs(text: str) -> frozenset[str]:
    """The text's runs of ASCII lower-case letters.

    Read from the text's words rather than by another scan: letters are word characters, so every run lies in
    a word, and a word of ASCII lower-case letters only is one whole run; the few other words are split.
    """
    words = word_set(text)
    whole = list(map(and_, map(str.isascii, words), map(str.isalpha, words)))
    whole = list(map(and_, whole, map(str.islower, words)))  # the same order: a frozenset iterates stably
    runs = set(compress(words, whole))
    others = list(compress(words, map(not_, whole)))
    if others:
        runs.update(_LETTERS.findall(" ".join(others)))
    return frozenset(runs)


@dataclass(frozen=True, slots=True)
class Digits:
    """Where the text's runs of \\d characters start, and the length of the longest."""

    starts: tuple[int, ...]
    longest: int


@lru_cache(maxsize=256)
def digits_of(text: str) -> Digits:
    """The runs of digits of a text, read from its words: a digit is a word character, so every run lies in a
    word, and only the few words that are not all letters can hold one (no second scan of the text)."""
    found = _words_of(text)
    starts: list[int] = []
    longest = 0
    for i in compress(range(len(found.words)), map(not_, map(str.isalpha, found.words))):
        at = found.starts[i]
        for match in _DIGITS.finditer(found.words[i]):
            starts.append(at + match.start())
            longest = max(longest, match.end() - match.start())
    return Digits(tuple(starts), longest)


@dataclass(frozen=True, slots=True)
class _Need:
    """Something every match contains: one of `words` as a whole word, a word beginning with one of `prefixes`
    (two characters or more), one of `strings`, or `digits` digits in a row (0: no digits needed)."""

    words: frozenset[str] = frozenset()
    strings: tuple[str, ...] = ()
    digits: int = 0
    prefixes: tuple[str, ...] = ()

    def met(self, text: str, text_words: frozenset[str]) -> bool:
        if not self.words.isdisjoint(text_words):
            return True
        for prefix in self.prefixes:
            if _has_prefix(text, prefix):
                return True
        for string in self.strings:  # a loop, not any(): no generator to set up for the usual one or two
            if string in text:
                return True
        return self.digits > 0 and digits_of(text).longest >= self.digits

    def cost(self) -> tuple[int, int]:
        """Order of testing: word-set tests first (one C call), then the fewest substring scans, longest first."""
        shortest = min((len(s) for s in (*self.words, *self.prefixes, *self.strings)), default=self.digits)
        return (len(self.strings), -(min(shortest, self.digits) if self.digits else shortest))

    def lower(self) -> _Need:
        return _Need(frozenset(w.lower() for w in self.words), _fewest(s.lower() for s in self.strings), self.digits,
                     _fewest((p.lower() for p in self.prefixes), prefixes=True))

    def __or__(self, other: _Need) -> _Need:
        digits = min(self.digits, other.digits) if self.digits and other.digits else self.digits or other.digits
        return _Need(self.words | other.words, _fewest((*self.strings, *other.strings)), digits,
                     _fewest((*self.prefixes, *other.prefixes), prefixes=True))


def _fewest(strings: Iterable[str], *, prefixes: bool = False) -> tuple[str, ...]:
    """The strings to look for: one holding another ("mg" holds "g"; for prefixes, "sept" starts with "sep")
    is implied by it, so it goes; shortest first, the likeliest to be found early (a miss costs a full scan)."""
    unique = sorted(set(strings), key=lambda s: (len(s), s))
    kept: list[str] = []
    for string in unique:
        if not any(string.startswith(shorter) if prefixes else shorter in string for shorter in kept):
            kept.append(string)
    return tuple(kept)


_BOUNDARY = "\x00"  # stands for \b inside a literal run; a pattern containing NUL gets no requirements
_MAX_STRINGS = 64


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _language(items: Iterable[Any]) -> frozenset[str] | None:
    """The strings a sequence can match when that is a small finite set (\\b kept as a marker), else None."""
    out = frozenset({""})
    for op, av in items:
        one = _item_language(op, av)
        if one is None:
            return None
        out = frozenset(a + b for a in out for b in one)
        if len(out) > _MAX_STRINGS:
            return None
    return out


# Results of _item_language and _shape for the nodes of the tree being read (keyed by identity, so only valid
# while that tree is alive: _read clears it, under _READING). Big alternations are looked at from several places.
_MEMO: dict[tuple[str, int, int], Any] = {}
_READING = threading.Lock()


def _item_language(op: Any, av: Any) -> frozenset[str] | None:
    key = ("language", id(op), id(av))
    if key not in _MEMO:
        _MEMO[key] = _item_language_of(op, av)
    result: frozenset[str] | None = _MEMO[key]
    return result


def _item_language_of(op: Any, av: Any) -> frozenset[str] | None:
    p = _parser
    if op is p.LITERAL:
        return frozenset({chr(av)}) if av else None
    if op is p.AT:
        return frozenset({_BOUNDARY if av is p.AT_BOUNDARY else ""})
    if op in (p.ASSERT, p.ASSERT_NOT):
        return frozenset({""})
    if op is p.IN:
        if len(av) <= 8 and all(o is p.LITERAL and a for o, a in av):
            return frozenset(chr(a) for _, a in av)
        return None
    if op is p.BRANCH:
        found: set[str] = set()
        for alternative in av[1]:
            lang = _language(alternative)
            if lang is None or len(found) + len(lang) > _MAX_STRINGS:
                return None
            found |= lang
        return frozenset(found)
    if op is p.SUBPATTERN:
        _, add_flags, del_flags, sub = av
        return None if add_flags or del_flags else _language(sub)
    if op in (p.MAX_REPEAT, p.MIN_REPEAT):
        low, high, sub = av
        lang = _language(sub)
        if lang is None or high != 1:
            return None
        return lang if low == 1 else lang | {""}
    return None


def _non_word_class(op: Any, av: Any) -> bool:
    """True for a character class all of whose characters are non-word (\\s, punctuation)."""
    p = _parser
    if op is not p.IN:
        return False
    return all((o is p.LITERAL and not _is_word(chr(a))) or (o is p.CATEGORY and a in (
        p.CATEGORY_SPACE, p.CATEGORY_NOT_WORD, p.CATEGORY_UNI_SPACE, p.CATEGORY_UNI_NOT_WORD)) for o, a in av)


@dataclass(frozen=True, slots=True)
class _Shape:
    """How a piece of pattern meets its neighbours: can it match nothing; are its first and last characters
    (when it matches something) always non-word, so that a word next to it is a whole word."""

    empty: bool
    starts: bool
    ends: bool


_UNKNOWN = _Shape(False, False, False)  # no claim about its edges


def _strings_shape(strings: frozenset[str]) -> _Shape:
    full = [s for s in strings if s]  # the \b marker counts as a non-word edge: a word next to it ends there
    return _Shape("" in strings, all(not _is_word(s[0]) for s in full), all(not _is_word(s[-1]) for s in full))


def _first_edge(shapes: Iterable[_Shape]) -> bool:
    """Whether a sequence of pieces starts with a non-word character whenever it matches something."""
    for shape in shapes:
        if not shape.starts:
            return False
        if not shape.empty:
            return True
    return True


def _sequence_shape(items: Iterable[Any]) -> _Shape:
    shapes = [_shape(op, av) for op, av in items]
    return _Shape(all(s.empty for s in shapes), _first_edge(shapes),
                  _first_edge(_Shape(s.empty, s.ends, s.starts) for s in reversed(shapes)))


def _shape(op: Any, av: Any) -> _Shape:
    key = ("shape", id(op), id(av))
    if key not in _MEMO:
        _MEMO[key] = _shape_of(op, av)
    result: _Shape = _MEMO[key]
    return result


def _shape_of(op: Any, av: Any) -> _Shape:
    p = _parser
    lang = _item_language(op, av)
    if lang is not None:
        return _strings_shape(lang)
    if op is p.IN:
        non_word = _non_word_class(op, av)
        return _Shape(False, non_word, non_word)
    if op in (p.MAX_REPEAT, p.MIN_REPEAT):
        inner = _sequence_shape(av[2])
        return _Shape(av[0] == 0 or inner.empty, inner.starts, inner.ends)
    if op is p.SUBPATTERN and not (av[1] or av[2]):
        return _sequence_shape(av[3])
    if op is p.BRANCH:
        shapes = [_sequence_shape(alternative) for alternative in av[1]]
        return _Shape(any(s.empty for s in shapes), all(s.starts for s in shapes), all(s.ends for s in shapes))
    return _UNKNOWN


def _run_need(strings: frozenset[str], left: bool, right: bool) -> _Need | None:
    """What a run of literals guarantees: a whole word of each string where its edges are known, else the string."""
    needed_words: set[str] = set()
    needed_prefixes: list[str] = []
    needed_strings: list[str] = []
    for s in strings:
        framed = (_BOUNDARY if left else "") + s + (_BOUNDARY if right else "")
        pieces = re.split(r"[^\w]", framed)  # pieces between two non-word characters (or \b) are whole words
        whole = [w for w in pieces[1:-1] if w]
        if whole:
            needed_words.add(max(whole, key=len))
        elif len(pieces) == 2 and not pieces[0] and len(pieces[1]) >= 2:
            needed_prefixes.append(pieces[1])  # after a non-word character: where a word begins
        elif plain := s.replace(_BOUNDARY, ""):
            needed_strings.append(plain)
        else:
            return None
    return _Need(frozenset(needed_words), _fewest(needed_strings), 0, _fewest(needed_prefixes, prefixes=True))


def _is_digit_class(op: Any, av: Any) -> bool:
    p = _parser
    return op is p.IN and list(av) in ([(p.CATEGORY, p.CATEGORY_DIGIT)], [(p.CATEGORY, p.CATEGORY_UNI_DIGIT)])


def _digit_run(op: Any, av: Any) -> int:
    """How many digits in a row an item matches at least: \\d is 1, \\d{3} is 3; 0 for anything else."""
    p = _parser
    if _is_digit_class(op, av):
        return 1
    if op in (p.MAX_REPEAT, p.MIN_REPEAT) and av[0] >= 1:
        inner = list(av[2])
        if len(inner) == 1 and _is_digit_class(*inner[0]):
            return int(av[0])
    return 0


def _needs(items: Iterable[Any], left: bool = False, right: bool = False) -> list[_Need]:
    """Everything every match of a sequence contains. left/right: the sequence is framed by non-word text."""
    p = _parser
    segments: list[tuple[frozenset[str] | None, Any, Any]] = []  # (language of a literal run, op, av)
    for op, av in items:
        lang = _item_language(op, av)
        previous = segments[-1][0] if segments else None
        if lang is not None and previous is not None:
            joined = frozenset(a + b for a in previous for b in lang)
            if len(joined) <= _MAX_STRINGS:
                segments[-1] = (joined, None, None)
                continue
        segments.append((lang, op, av))
    shapes = [_strings_shape(lang) if lang is not None else _shape(op, av) for lang, op, av in segments]

    def framed_before(i: int) -> bool:
        return _first_edge([_Shape(s.empty, s.ends, s.starts) for s in reversed(shapes[:i])]
                           + [_Shape(False, left, left)])

    def framed_after(i: int) -> bool:
        return _first_edge([*shapes[i + 1:], _Shape(False, right, right)])

    needs: list[_Need] = []
    for i, (lang, op, av) in enumerate(segments):
        framed_left, framed_right = framed_before(i), framed_after(i)
        if lang is not None:
            need = _run_need(lang, framed_left, framed_right)
            if need is not None:
                needs.append(need)
        elif _digit_run(op, av):
            needs.append(_Need(digits=_digit_run(op, av)))
        elif op in (p.MAX_REPEAT, p.MIN_REPEAT) and av[0] >= 1:
            needs.extend(_needs(av[2], framed_left, False))
        elif op is p.SUBPATTERN and not (av[1] or av[2]):
            needs.extend(_needs(av[3], framed_left, framed_right))
        elif op is p.BRANCH:
            each = [_needs(alternative, framed_left, framed_right) for alternative in av[1]]
            if all(each):  # one requirement of whichever alternative matched
                needs.append(reduce(_Need.__or__, (min(n, key=_Need.cost) for n in each)))
            runs = [max((n.digits for n in alt if not (n.words or n.strings)), default=0) for alt in each]
            if all(runs):  # every alternative needs digits in a row
                needs.append(_Need(digits=min(runs)))
    return needs


@dataclass(frozen=True, slots=True)
class _Starts:
    """Where every match starts: where a word starts that is one of `words` or begins with one of `prefixes`,
    where a run of digits starts (`digit_runs`), or at one of the (non-word) characters `chars`."""

    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    digit_runs: bool = False
    chars: frozenset[str] = frozenset()

    def __or__(self, other: _Starts) -> _Starts:
        return _Starts(self.words | other.words, tuple(sorted({*self.prefixes, *other.prefixes})),
                       self.digit_runs or other.digit_runs, self.chars | other.chars)

    def lower(self) -> _Starts:
        return _Starts(frozenset(w.lower() for w in self.words), tuple(sorted({p.lower() for p in self.prefixes})),
                       self.digit_runs, frozenset(c.lower() for c in self.chars))


_NOT_AFTER_DIGIT = "\x01"  # stands for a lookbehind that rules out a digit before the match (?<![\d-])
_MARKERS = _BOUNDARY + _NOT_AFTER_DIGIT


def _start_of(prefix: str, items: list[Any]) -> _Starts | None:
    """The start a match has once `prefix` (literal text read from its start, with markers) is known, if known.

    Returns None when it depends on what comes next, and _NOWHERE when the match can start anywhere.
    """
    body = prefix.lstrip(_MARKERS)
    lead = prefix[:len(prefix) - len(body)]
    if not body:
        return None
    if not _is_word(body[0]):
        return _Starts(chars=frozenset(body[0]))  # wherever that character is
    if body[0].isdecimal() and lead:
        return _Starts(digit_runs=True)  # \\b or (?<![\\d-]) rules out a digit before it
    if _BOUNDARY not in lead:
        return _NOWHERE  # no \\b before the first character: it may be inside a word
    end = 1
    while end < len(body) and _is_word(body[end]):
        end += 1
    if end < len(body) or _first_edge(chain((_shape(op, av) for op, av in items), [_UNKNOWN])):  # lazily
        return _Starts(words=frozenset({body[:end]}))  # a non-word character follows: the word is whole
    return None


_NOWHERE = _Starts(frozenset({""}))  # sentinel: no known start


def _starts(items: list[Any], prefix: str = "") -> _Starts | None:
    """Where every match of a sequence starts, or None when it can start anywhere.

    `prefix` is literal text (with markers) already read from the start of the match; `items` follow it.
    """
    known = _start_of(prefix, items)
    if known is _NOWHERE:
        return None
    if known is not None:
        return known
    body = prefix.lstrip(_MARKERS)
    unfinished = _Starts(prefixes=(body,)) if body else None  # a word that starts with body
    if not items:
        return unfinished
    p = _parser
    (op, av), rest = items[0], items[1:]
    if not body and _digit_run(op, av):
        return _Starts(digit_runs=True) if prefix else None  # \\b or (?<!\\d) rules out a digit before it
    lang = _item_language(op, av)
    if (not body and op is p.ASSERT_NOT and av[0] == -1 and len(av[1]) == 1 and av[1][0][0] is p.IN
            and (p.CATEGORY, p.CATEGORY_DIGIT) in av[1][0][1] and (p.NEGATE, None) not in av[1][0][1]):
        options = [(rest, prefix + _NOT_AFTER_DIGIT)]  # only before the match: it says nothing about a word
    elif lang is not None:
        options = [(rest, prefix + s) for s in lang]
    elif op is p.BRANCH:
        options = [([*alternative, *rest], prefix) for alternative in av[1]]
    elif op is p.SUBPATTERN and not (av[1] or av[2]):
        options = [([*av[3], *rest], prefix)]
    elif op in (p.MAX_REPEAT, p.MIN_REPEAT) and av[1] == 1:
        options = [([*av[2], *rest], prefix)] + ([(rest, prefix)] if av[0] == 0 else [])
    else:
        return unfinished
    found = _Starts()
    for more, longer in options:
        starts = _starts(more, longer)
        if starts is None:
            return unfinished
        found = found | starts
        if len(found.words) + len(found.prefixes) > 4 * _MAX_STRINGS:
            return unfinished
    return found


def _split_alternatives(source: str) -> list[str]:
    """The top-level alternatives of a pattern's source (the parts between |s outside groups and classes)."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if source[i + 1:i + 2] == "^":
                i += 1
            if source[i + 1:i + 2] == "]":  # a ] right after [ or [^ is a literal
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    parts.append(source[start:])
    return parts


@dataclass(frozen=True, slots=True)
class _Alternative:
    source: str
    needs: tuple[_Need, ...]  # all of them hold in every match, cheapest test first
    starts: _Starts | None  # where every match starts; None: anywhere

    def possible(self, text: str, text_words: frozenset[str], *, quick: bool = False) -> bool:
        """Whether the (lower-cased) text has everything a match needs (if quick, of what is quick to test:
        words and digits, not substrings or prefixes)."""
        return all(need.met(text, text_words) for need in self.needs
                   if not (quick and (need.strings or need.prefixes)))


def _read(source: str, flags: int) -> _Alternative:
    """What every match of a (case-sensitive) alternative contains, and where it starts, in lower case.

    Lower case, because they are looked for in the lower-cased text: where the text has "Dr", that has "dr".
    """
    if _parser is None:
        re.compile(source, flags)  # a wrong split would not compile
        return _Alternative(source, (), None)
    tree = _parser.parse(source, flags)  # a wrong split would not parse
    if tree.state.flags & re.IGNORECASE:
        return _Alternative(source, (), None)  # literals would not be what the text must contain
    with _READING:
        _MEMO.clear()
        try:
            needs = tuple(sorted({need.lower() for need in _needs(tree)}, key=_Need.cost))
            starts = _starts(list(tree))
            return _Alternative(source, needs, starts.lower() if starts is not None else None)
        except Exception:  # an unfamiliar construct: no requirements, no start words; it always runs
            return _Alternative(source, (), None)
        finally:
            _MEMO.clear()


class Pattern:
    """A regex matched like `re.compile(source, flags)`, faster; gives spans (of `group`), not match objects.

    With ignore_case (the default) it matches like `re.compile(source, flags | re.IGNORECASE)`, and the source
    must be written in lower case: it runs, case-sensitively, on the lower-cased text (same positions).
    """

    def __init__(self, source: str, *, ignore_case: bool = True, flags: int = 0, group: int = 0) -> None:
        if ignore_case and source != source.lower():
            raise ValueError("an ignore_case Pattern must be written in lower case")
        self.pattern = source
        self.ignore_case = ignore_case
        self.group = group
        self._flags = flags
        self._regex = re.compile(source, flags)
        self._ignoring_case: re.Pattern[str] | None = None  # for texts that cannot be lower-cased: compiled if needed
        parts = _split_alternatives(source)
        if self._regex.groups or len(parts) == 1:
            parts = [source]  # group numbers must not move: keep the pattern whole, prefilter it as one piece
        self._alternatives = [_read(part, flags) for part in parts]
        for alternative in self._alternatives:
            if alternative.starts is not None:
                _START_WORDS.update(alternative.starts.words)
        # Index the alternatives by the words of their first (cheapest) requirement, so that one set
        # intersection finds the few worth a closer look. The others are looked at one by one; for those whose
        # starts are known, only the quick requirements: the places where they could start are few (say, where
        # digits are), so trying them there costs less than scanning the text for substrings first.
        self._by_word: dict[str, list[int]] = {}
        self._unindexed: list[int] = []
        self._placed: list[int] = []
        for i, alternative in enumerate(self._alternatives):
            first = alternative.needs[0] if alternative.needs else None
            if first and first.words and not (first.strings or first.digits or first.prefixes):
                for word in first.words:
                    self._by_word.setdefault(word, []).append(i)
            elif alternative.starts is not None:
                self._placed.append(i)
            else:
                self._unindexed.append(i)
        self._first_words = frozenset(self._by_word)
        self._plans: dict[tuple[int, ...], tuple[re.Pattern[str], _Starts | None]] = {}

    def _fallback(self) -> re.Pattern[str]:
        """The pattern as plain re would run it, for texts with the rare characters `lowered` refuses."""
        if not self.ignore_case:
            return self._regex
        if self._ignoring_case is None:
            self._ignoring_case = re.compile(self.pattern, self._flags | re.IGNORECASE)
        return self._ignoring_case

    def _plan(self, alive: tuple[int, ...]) -> tuple[re.Pattern[str], _Starts | None]:
        """For the alternatives that may match: the regex to run, and where matches can start."""
        plan = self._plans.get(alive)
        if plan is None:
            chosen = [self._alternatives[i] for i in alive]
            starts = [a.starts for a in chosen if a.starts is not None]
            if len(starts) == len(chosen):
                plan = (self._regex, reduce(_Starts.__or__, starts))
            elif len(chosen) == len(self._alternatives):
                plan = (self._regex, None)
            else:
                plan = (re.compile("|".join(a.source for a in chosen), self._flags), None)
            if len(self._plans) >= 256:
                self._plans.clear()
            self._plans[alive] = plan
        return plan

    def _alive(self, words: _Words) -> tuple[int, ...]:
        """The alternatives whose requirements the lower-cased text meets (usually none: the fast path)."""
        hits = self._first_words.intersection(words.set)
        if hits:
            chosen = set(self._unindexed)
            for word in hits:
                chosen.update(self._by_word[word])
            candidates: Iterable[int] = chosen
        elif self._unindexed:
            candidates = self._unindexed
        elif self._placed:
            return tuple(i for i in self._placed if self._alternatives[i].possible(words.text, words.set, quick=True))
        else:
            return ()
        possible = [i for i in candidates if self._alternatives[i].possible(words.text, words.set)]
        placed = [i for i in self._placed if self._alternatives[i].possible(words.text, words.set, quick=True)]
        return tuple(sorted([*possible, *placed]))

    def _matches(self, text: str, words: _Words, alive: tuple[int, ...]) -> Iterator[re.Match[str]]:
        # Requirements and start words are looked for in the lower-cased text, which has the same positions;
        # a case-sensitive pattern still runs on the text itself.
        low = words.text
        target = low if self.ignore_case else text
        regex, starts = self._plan(alive)
        if starts is None:
            yield from regex.finditer(target)
            return
        found = starts.words.intersection(words.set)
        for prefix in starts.prefixes:
            found = found.union(_with_prefix(low, prefix))
        positions = sorted(chain(digits_of(low).starts if starts.digit_runs else (), *map(words.starts_of, found),
                                 *(_places_of(low, char) for char in starts.chars)))
        end = 0
        for start in positions:
            if start >= end:  # finditer resumes where the last match ended
                match = regex.match(target, start)
                if match:
                    yield match
                    end = match.end()

    def finditer(self, text: str) -> Iterator[Span]:
        """The spans of all matches, as `re.finditer` would find them."""
        words = _lowered_words(text)
        if words is None:  # rare characters: plain re, no shortcuts
            matches: Iterable[re.Match[str]] = self._fallback().finditer(text)
        else:
            alive = self._alive(words)
            matches = self._matches(text, words, alive) if alive else ()
        for match in matches:
            yield match.span(self.group)

    def search(self, text: str) -> Span | None:
        """The span of the first match, as `re.search` would find it."""
        words = _lowered_words(text)
        if words is None:
            match = self._fallback().search(text)
        else:
            alive = self._alive(words)
            match = next(self._matches(text, words, alive), None) if alive else None
        return match.span(self.group) if match else None
