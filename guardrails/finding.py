"""The one thing every check returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Target = Literal["message", "draft"]


class Severity(StrEnum):
    """How a finding affects the draft: block holds it for the clinician, warn and info annotate it."""

    BLOCK = "block"
    WARN = "warn"
    INFO = "info"


class Urgency(StrEnum):
    """Triage level of a patient message; the inbox sorts by `rank`."""

    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """0 for the most urgent, so an ascending sort puts it first."""
        return {"emergency": 0, "urgent": 1, "routine": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation about the patient message or the draft, pointing at its span of text."""

    check: str
    severity: Severity
    message: str
    span: tuple[int, int] | None = None
    suggestion: str | None = None
    code: str = ""
    target: Target = "draft"

    def with_severity(self, severity: Severity) -> Finding:
        """Copy with the severity the policy assigns."""
        return Finding(self.check, severity, self.message, self.span, self.suggestion, self.code, self.target)
