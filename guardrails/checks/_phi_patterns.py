"""Patterns for identifiers (phone, email, SSN, MRN, dates, street addresses, URLs, self-introduced names)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from rapidfuzz import fuzz

from guardrails.checks._prefilter import Pattern

# Case-sensitive unless ignore_case (then written in lower case; see _prefilter.Pattern).
PATTERNS: tuple[tuple[str, str, Pattern], ...] = (
    ("email", "an email address", Pattern(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b", ignore_case=False)),
    ("url", "a web address", Pattern(r"\bhttps?://[^\s<>\"]+|\bwww\.[^\s<>\"]+")),
    ("ssn", "a social security number", Pattern(r"(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d-])", ignore_case=False)),
    ("phone", "a phone number", Pattern(
        r"(?<![\d-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)[\s-]?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\d-])(?:\s*(?:ext\.?|x)\s*\d{1,5})?"
        r"|(?<!\d)\d{10}(?!\d)", ignore_case=False)),
    # Case-insensitive: "mrn" and [a-z] match what "MRN" and [A-Z] did under re.IGNORECASE.
    ("mrn", "a medical record number", Pattern(
        r"\b(?:mrn|medical record(?:\s+(?:number|no\.?|#))?|record\s*#|chart\s*(?:number|#)|patient\s+id)"
        r"\s*(?:is|:|#)?\s*#?\s*[a-z]{0,3}\d{5,10}\b")),
    ("id", "an identifier number", Pattern(
        r"\b[A-Z]{2,4}-?\d{6,12}\b|\b[A-Z]{2,4}(?:-\d{3}){2,3}\b", ignore_case=False)),
    ("date", "a date", Pattern(
        r"\b(?:\d{1,2}[/-]\d{1,2}[/-](?:19|20)?\d{2}|(?:19|20)\d{2}-\d{2}-\d{2}|"
        r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{2}|"
        r"\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(?:19|20)\d{2})\b")),
    ("address", "a street address", Pattern(
        r"\b\d{1,6}\s+(?:[A-Z][\w'.-]*\s+){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|"
        r"Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Calle|Avenida)\b\.?"
        r"(?:,?\s+(?:Apt|Unit|Suite|#)\s*\w+)?(?:,\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)?", ignore_case=False)),
    ("name", "a name", Pattern(
        r"(?:\b(?:[Mm]y name is|[Tt]his is|[Ii] am|[Ii]'m|[Ii]ts|[Ii]t's|[Mm]e llamo|[Mm]i nombre es|[Ss]oy|"
        r"[Hh]er name is|[Hh]is name is|[Nn]amed|[Cc]alled|(?:chart|results|records|letter|note)\s+for|[Pp]atient|"
        r"[Aa]\s+name|[Ii]t'?s\s+\w+\s+with\s+a\s+\w,)\s+|"
        r"\b(?:[Mm]r|[Mm]rs|[Mm]s|[Mm]iss|[Dd]r)\.?\s+|"
        r"\b(?:[Mm]y|[Oo]ur|[Mm]i)\s+(?:son|daughter|husband|wife|mom|mother|dad|father|brother|sister|grandson|"
        r"granddaughter|grandma|grandpa|baby|toddler|kid|child|partner|boyfriend|girlfriend|hijo|hija|esposo|esposa|"
        r"mamá|papá)\s+)"
        r"([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})\b", ignore_case=False, group=1)),
)

_NOT_NAMES = frozenset({"Urgent", "Care", "Emergency", "Room", "Medicare", "Medicaid", "Blue", "Cross", "Shield",
                        "January", "February", "March", "April", "June", "July", "August", "September", "October",
                        "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                        "Sunday", "Tylenol", "Advil", "Motrin", "Walgreens", "Walmart", "Target", "Costco", "Kaiser",
                        "Type", "Vitamin", "Covid", "Lyme", "Crohn", "Parkinson", "Alzheimer", "Down", "Syndrome",
                        "New", "York", "Los", "Angeles", "San", "United", "States", "North", "South", "East", "West",
                        "Google", "Facebook", "Dear", "Hello", "Thanks", "Thank", "Please", "Dr", "God", "Jesus",
                        "Not", "Just", "So", "Very", "Really", "Having", "Feeling", "Still", "The", "A", "An",
                        "Worried", "Sorry", "Writing", "Sure", "Okay", "Ok", "Here", "Back", "Also", "Pregnant",
                        "Diabetic", "Taking", "On", "In", "At", "Trying", "Going", "Concerned", "Scared", "Afraid",
                        "Confused", "Thankful", "Grateful", "Unable", "Able", "Fine", "Good", "Better", "Worse"})


def find(text: str) -> Iterator[tuple[str, str, tuple[int, int], str]]:
    """Every identifier-like span: (kind, label, span, matched text)."""
    for kind, label, pattern in PATTERNS:
        for start, end in pattern.finditer(text):  # the name pattern gives the span of the name itself
            found = text[start:end]
            if kind == "name" and (any(part in _NOT_NAMES for part in found.split()) or found.isupper()):
                continue
            yield kind, label, (start, end), found


_TOKEN = re.compile(r"[\w'.@/-]+")


def find_known(text: str, identifiers: Mapping[str, str], *, threshold: float = 85.0
               ) -> Iterator[tuple[str, tuple[int, int], str]]:
    """Spans of the patient's own supplied identifiers, matched exactly or fuzzily (typos, spacing)."""
    lowered = text.lower()
    tokens = [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN.finditer(text)]
    for kind, value in identifiers.items():
        value = value.strip()
        if len(value) < 3:
            continue
        start = lowered.find(value.lower())
        if start >= 0:
            yield kind, (start, start + len(value)), text[start:start + len(value)]
            continue
        width = len(value.split())
        target = value.lower()
        best: tuple[float, int, int] | None = None
        for i in range(len(tokens) - width + 1):
            window = " ".join(t[2] for t in tokens[i:i + width])
            score = fuzz.ratio(window, target)
            if score >= threshold and (best is None or score > best[0]):
                best = (score, tokens[i][0], tokens[i + width - 1][1])
        if kind == "name" and best is None and width > 1:
            # A first or last name alone still identifies the patient in a small practice.
            for part in value.split():
                if len(part) >= 3:
                    for t_start, t_end, token in tokens:
                        if fuzz.ratio(token, part.lower()) >= 90:
                            best = (90.0, t_start, t_end)
                            break
                if best:
                    break
        if best:
            yield kind, (best[1], best[2]), text[best[1]:best[2]]
