"""What checks look at. Plain data: no database rows, no HTTP requests, no clients."""

from __future__ import annotations

from dataclasses import dataclass, field

from guardrails.finding import Urgency


@dataclass(frozen=True, slots=True)
class PracticePolicy:
    """Numbers and names a safe reply must be able to point the patient to."""

    emergency_number: str = "911"
    crisis_line: str = "988"
    after_hours_phone: str = "the after-hours line"
    practice_name: str = "our practice"


@dataclass(frozen=True, slots=True)
class InputContext:
    """A patient message and what was supplied with it."""

    text: str
    subject: str | None = None
    context_text: str = ""  # medications, problems, results and notes, flattened


@dataclass(frozen=True, slots=True)
class OutputContext:
    """A draft reply and the message it answers."""

    draft: str
    message: str
    urgency: Urgency = Urgency.ROUTINE
    urgency_codes: frozenset[str] = field(default_factory=frozenset)
    practice: PracticePolicy = field(default_factory=PracticePolicy)
    context_text: str = ""
