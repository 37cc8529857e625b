"""The request a draft is made from, validated the same way for the API, CLI, evals and queue."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guardrails import Urgency

__all__ = [
    "ClinicianInfo",
    "DraftRequest",
    "DraftStatus",
    "PatientContext",
    "PatientInfo",
    "PatientMessage",
    "PracticeInfo",
    "Urgency",
    "clean_text",
]

# C0/C1 control characters other than tab and newline carry no meaning in a portal message and can
# hide text from a reviewer; we drop them rather than reject the message.
_KEEP = {"\n", "\t"}


def clean_text(value: str) -> str:
    """Normalise to NFC, unify newlines and drop control characters (keeps tab and newline)."""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(
        ch for ch in value if ch in _KEEP or unicodedata.category(ch) not in {"Cc", "Cs", "Co", "Cn"}
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PatientMessage(_Strict):
    """What the patient wrote. The length limit is enforced by the pipeline from settings."""

    text: str = Field(description="The patient's message, as written (it must contain visible text).",
                      examples=["My headache is back."],
                      # documented only: the pipeline answers message_empty after removing control characters
                      json_schema_extra={"minLength": 1, "pattern": r"[^\s\x00-\x1f\x7f-\x9f]"})
    subject: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = None
    language: str | None = Field(default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

    @field_validator("text", "subject")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else clean_text(value).strip()

    @field_validator("sent_at", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        # Lax parsing would take a number as a Unix time; the schema (and the portal) promise ISO 8601 text.
        if value is not None and not isinstance(value, str | datetime):
            raise ValueError("sent_at must be an ISO 8601 date-time string, e.g. 2026-11-23T09:30:00Z")
        return value


class PatientInfo(_Strict):
    """Who wrote. Identifiers are used to spot (and optionally redact) PHI, never sent when redaction is on."""

    name: str | None = Field(default=None, max_length=200)
    preferred_name: str | None = Field(default=None, max_length=200)
    age: int | None = Field(default=None, ge=0, le=130)
    date_of_birth: str | None = Field(default=None, max_length=40)
    mrn: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=300)

    @field_validator("age", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        # JSON numbers only (44 or 44.0); lax parsing would also take true or "44".
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError("age must be a whole number of years, e.g. 44")
        return value

    def identifiers(self) -> dict[str, str]:
        """The supplied identifiers by kind (name, date_of_birth, mrn, phone, email, address)."""
        values = {"name": self.name, "preferred_name": self.preferred_name, "date_of_birth": self.date_of_birth,
                  "mrn": self.mrn, "phone": self.phone, "email": self.email, "address": self.address}
        return {kind: value for kind, value in values.items() if value}


class ClinicianInfo(_Strict):
    name: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=100)


class PracticeInfo(_Strict):
    name: str | None = Field(default=None, max_length=200)
    after_hours_phone: str | None = Field(default=None, max_length=50)


class PatientContext(_Strict):
    medications: list[str] = Field(default_factory=list, max_length=100)
    problems: list[str] = Field(default_factory=list, max_length=100)
    recent_results: list[str] = Field(default_factory=list, max_length=100)
    notes: str | None = Field(default=None, max_length=5_000)

    @field_validator("medications", "problems", "recent_results")
    @classmethod
    def _clean_items(cls, values: list[str]) -> list[str]:
        return [cleaned for v in values if (cleaned := clean_text(v).strip())]

    @field_validator("notes")
    @classmethod
    def _clean_notes(cls, value: str | None) -> str | None:
        return None if value is None else clean_text(value).strip() or None

    def is_empty(self) -> bool:
        """True when no context was supplied at all."""
        return not (self.medications or self.problems or self.recent_results or self.notes)


class DraftRequest(_Strict):
    """A patient message plus everything optional that helps draft the reply."""

    message: PatientMessage
    patient: PatientInfo = Field(default_factory=PatientInfo)
    clinician: ClinicianInfo = Field(default_factory=ClinicianInfo)
    practice: PracticeInfo = Field(default_factory=PracticeInfo)
    context: PatientContext = Field(default_factory=PatientContext)
    # The pattern accepts exactly what TemplateRef.parse does (a version is a number, a label starts with a letter).
    template: str | None = Field(
        default=None, max_length=130, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}(@([0-9]{1,9}|[a-z][a-z0-9_-]{0,62}))?$",
        description="Template set to draft with: name, name@VERSION or name@LABEL (default: the production label).",
        examples=["default@production"])


class DraftStatus(StrEnum):
    """Where a draft is in its life. Only a clinician moves it to approved or rejected."""

    QUEUED = "queued"  # stored; a background worker will draft it (POST /v1/messages, FHIR)
    GENERATING = "generating"
    PENDING_REVIEW = "pending_review"
    NEEDS_CLINICIAN = "needs_clinician"  # a block finding: the clinician must look before approving
    FAILED = "failed"  # the LLM call failed; the message is kept and the draft can be regenerated
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # replaced by a regenerated draft of the same message

    @property
    def reviewable(self) -> bool:
        """True for drafts that wait for a clinician's decision."""
        return self in {DraftStatus.PENDING_REVIEW, DraftStatus.NEEDS_CLINICIAN}
