"""What checks look at. Plain data: no database rows, no HTTP requests, no clients."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from guardrails.finding import Urgency


@dataclass(frozen=True, slots=True)
class PracticePolicy:
    """Numbers and names a safe reply must be able to point the patient to."""

    emergency_number: str = "911"
    crisis_line: str = "988"
    after_hours_phone: str = "the after-hours line"
    practice_name: str = "our practice"

    def numbers(self) -> tuple[str, ...]:
        """Every number a draft may legitimately quote from the practice policy."""
        return (self.emergency_number, self.crisis_line, self.after_hours_phone)


@dataclass(frozen=True, slots=True)
class InputContext:
    """A patient message and what was supplied with it."""

    text: str
    subject: str | None = None
    context_text: str = ""  # medications, problems, results and notes, flattened
    # Known identifiers of the patient (name, date_of_birth, mrn, phone, address, email) for PHI matching.
    identifiers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutputContext:
    """A draft reply and everything it may legitimately draw on."""

    draft: str
    message: str
    urgency: Urgency = Urgency.ROUTINE
    urgency_codes: frozenset[str] = field(default_factory=frozenset)
    practice: PracticePolicy = field(default_factory=PracticePolicy)
    context_text: str = ""
    identifiers: Mapping[str, str] = field(default_factory=dict)
    language: str = "en"
    system_prompt: str = ""  # the instructions the model saw, to detect them leaking into the draft
    clinician_name: str = ""

    @property
    def source(self) -> str:
        """Everything the draft may quote: the message, the chart context, identifiers and practice numbers."""
        return "\n".join([self.message, self.context_text, *self.identifiers.values(), *self.practice.numbers(),
                          self.practice.practice_name, self.clinician_name])
