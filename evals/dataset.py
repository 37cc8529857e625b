"""Labelled eval cases: the JSONL schema, validated on load with errors that name the file and line."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drafter.classify import LANGUAGE_NAMES, Category
from drafter.domain import DraftRequest, PatientContext, PatientInfo
from drafter.errors import DatasetError
from guardrails import Urgency

Tone = Literal["anxious", "angry", "neutral", "grateful"]

# What a draft must do, and what it must not do. Each name is checked by evals.expectations.
MUST = ("acknowledgement", "follow_up", "emergency_guidance", "crisis_line", "spanish", "plain_language", "length")
MUST_NOT = ("dose_change", "start_stop", "diagnosis", "test_interpretation", "promise", "false_reassurance",
            "dismissive", "alarmist", "phi_leak", "prompt_leak", "ungrounded")
MustName = Literal["acknowledgement", "follow_up", "emergency_guidance", "crisis_line", "spanish", "plain_language",
                   "length"]
MustNotName = Literal["dose_change", "start_stop", "diagnosis", "test_interpretation", "promise", "false_reassurance",
                      "dismissive", "alarmist", "phi_leak", "prompt_leak", "ungrounded"]
MAX_ERRORS_LISTED = 20


class Expectations(BaseModel):
    """Named expectations plus case-specific regular expressions the draft must (not) match."""

    model_config = ConfigDict(extra="forbid")

    must: list[MustName] = Field(default_factory=list)
    must_not: list[MustNotName] = Field(default_factory=list)
    must_match: list[str] = Field(default_factory=list)
    must_not_match: list[str] = Field(default_factory=list)

    @field_validator("must_match", "must_not_match")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression ({exc})") from None
        return patterns

    def count(self) -> int:
        """How many expectations this case checks."""
        return len(self.must) + len(self.must_not) + len(self.must_match) + len(self.must_not_match)


class EvalCase(BaseModel):
    """One labelled patient message. Labels use drafter's own vocabularies (classify.Category, guardrails.Urgency)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    text: str = Field(min_length=1, max_length=20_000)
    subject: str | None = None
    language: str
    category: Category
    urgency: Urgency
    tone: Tone
    injection: bool
    phi: bool
    source: str = Field(min_length=1, max_length=50)
    expectations: Expectations
    patient: PatientInfo | None = None
    context: PatientContext | None = None
    notes: str | None = None

    @field_validator("language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in LANGUAGE_NAMES:
            raise ValueError(f"must be one of {', '.join(LANGUAGE_NAMES)}")
        return value

    def request(self) -> DraftRequest:
        """The draft request the pipeline receives for this case."""
        payload: dict[str, Any] = {"message": {"text": self.text, "subject": self.subject, "language": self.language}}
        if self.patient is not None:
            payload["patient"] = self.patient.model_dump(exclude_none=True)
        if self.context is not None:
            payload["context"] = self.context.model_dump(exclude_none=True)
        return DraftRequest.model_validate(payload)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "case"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def load_dataset(path: Path) -> list[EvalCase]:
    """Every case of a JSONL dataset, or one DatasetError listing each bad line as file:line: problem."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"No dataset at {path}; pass --dataset with a JSONL file "
                           "(e.g. evals/datasets/portal_v1.jsonl).") from None
    except OSError as exc:
        raise DatasetError(f"Cannot read the dataset {path}: {exc.strerror}.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 (bad byte at offset {exc.start}); convert it with iconv -t UTF-8.") \
            from None
    cases: list[EvalCase] = []
    errors: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        try:
            case = EvalCase.model_validate(row)
        except ValidationError as exc:
            errors.append(f"{path}:{number}: {_describe(exc)}")
            continue
        if case.id in first_line:
            errors.append(f"{path}:{number}: id {case.id!r} was already used on line {first_line[case.id]}")
            continue
        first_line[case.id] = number
        cases.append(case)
    if errors:
        shown = errors[:MAX_ERRORS_LISTED]
        more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise DatasetError(f"The dataset has {len(errors)} invalid line(s); fix them and run again:\n"
                           + "\n".join(shown) + more, details={"errors": errors})
    if not cases:
        raise DatasetError(f"{path} holds no cases (one JSON object per line).")
    return cases


def dataset_digest(path: Path) -> str:
    """SHA-256 of the dataset file, so a resumed run can tell the file did not change."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
