"""Bodies and answers of the template administration API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from drafter.domain import DraftRequest
from drafter.storage.models import TemplateLabel, TemplateLabelMove, TemplateVersion
from drafter.templates.admin import Outcomes

VersionNumber = Field(ge=1, le=1_000_000)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetOut(BaseModel):
    name: str
    versions: int
    latest: int
    labels: dict[str, int]


class SetList(BaseModel):
    items: list[SetOut]


class VersionSummary(BaseModel):
    set: str
    version: int
    status: Literal["draft", "published", "archived"]
    author: str
    message: str
    based_on: int | None
    checksum: str
    created_at: datetime
    published_at: datetime | None
    published_by: str | None
    labels: list[str]
    validation_ok: bool | None = Field(description="The last validation's verdict (None: never validated).")
    gate_status: str | None = Field(description="The last gate run: passed, regressed, unavailable or error.")

    @classmethod
    def from_row(cls, row: TemplateVersion, labels: list[str]) -> VersionSummary:
        return cls(set=row.set_name, version=row.version, status=row.status, author=row.author, message=row.message,
                   based_on=row.based_on, checksum=row.checksum, created_at=_utc(row.created_at) or row.created_at,
                   published_at=_utc(row.published_at), published_by=row.published_by, labels=labels,
                   validation_ok=None if row.validation is None else bool(row.validation.get("ok")),
                   gate_status=None if row.gate is None else str(row.gate.get("status")))


class VersionOut(VersionSummary):
    files: dict[str, str]
    validation: dict[str, Any] | None
    gate: dict[str, Any] | None

    @classmethod
    def full(cls, row: TemplateVersion, labels: list[str]) -> VersionOut:
        return cls(**VersionSummary.from_row(row, labels).model_dump(), files=row.files, validation=row.validation,
                   gate=row.gate)


class VersionList(BaseModel):
    set: str
    labels: dict[str, int]
    items: list[VersionSummary]


class FilesBody(_Body):
    """A whole set (`files`), or `changes` to the files of version `based_on` (null deletes a file)."""

    files: dict[str, str] | None = Field(default=None, description="Every file of the set: path -> text.")
    changes: dict[str, str | None] | None = Field(default=None, description="Files to add or replace (text) "
                                                  "or delete (null), applied to based_on.")
    based_on: int | None = Field(default=None, ge=1, le=1_000_000)


class CreateVersion(FilesBody):
    message: str = Field(min_length=1, max_length=2_000, description="What changed and why.")


class IssueOut(BaseModel):
    code: str
    message: str
    template: str | None
    line: int | None
    column: int | None
    severity: Literal["error", "warning"]


class RenderOut(BaseModel):
    sample: str
    mode: str
    ok: bool
    chars: int
    ms: float
    issue: IssueOut | None


class ValidationOut(BaseModel):
    ok: bool
    issues: list[IssueOut]
    renders: list[RenderOut]


class CreatedVersion(BaseModel):
    version: VersionOut
    validation: ValidationOut


class PreviewBody(FilesBody):
    """Preview a stored version (path) or unsaved files (body), on a sample or on a message of your own."""

    sample_id: str | None = Field(default=None, max_length=100)
    request: DraftRequest | None = Field(default=None, description="A message of your own instead of a sample.")
    mode: Literal["chat", "completion"] = "chat"
    full_draft: bool = Field(default=False, description="Also draft it with the configured model and return the "
                                                        "findings (nothing is stored).")


class PreviewOut(BaseModel):
    version: str
    sample: str
    mode: str
    request: dict[str, Any] | None = Field(description="Exactly what the model would receive.")
    error: str | None
    draft: dict[str, Any] | None


class DiffOut(BaseModel):
    set: str
    from_: int = Field(alias="from")
    to: int
    added: list[str]
    removed: list[str]
    files: dict[str, str] = Field(description="Unified diff per changed file.")

    model_config = ConfigDict(populate_by_name=True)


class GateOut(BaseModel):
    status: str
    passed: bool
    candidate: str
    baseline: str | None
    summary: str
    gate: str
    dataset: str | None
    metrics: list[dict[str, Any]]
    details: dict[str, Any]
    ran_at: str


class PublishBody(_Body):
    override_reason: str | None = Field(default=None, max_length=2_000, description="Publish despite a failed or "
                                        "unavailable gate; say why (audited).")


class Published(BaseModel):
    version: VersionSummary
    gate: GateOut


class RollbackBody(_Body):
    reason: str = Field(min_length=1, max_length=2_000)
    to_version: int | None = Field(default=None, ge=1, le=1_000_000, description="Default: the version before.")


class LabelBody(_Body):
    version: int = Field(ge=1, le=1_000_000)


class LabelOut(BaseModel):
    set: str
    label: str
    version: int
    moved_at: datetime
    moved_by: str

    @classmethod
    def from_row(cls, row: TemplateLabel) -> LabelOut:
        return cls(set=row.set_name, label=row.label, version=row.version,
                   moved_at=_utc(row.moved_at) or row.moved_at, moved_by=row.moved_by)


class LabelMoveOut(BaseModel):
    from_version: int | None
    to_version: int
    action: str
    actor: str
    reason: str | None
    at: datetime

    @classmethod
    def from_row(cls, row: TemplateLabelMove) -> LabelMoveOut:
        return cls(from_version=row.from_version, to_version=row.to_version, action=row.action, actor=row.actor,
                   reason=row.reason, at=_utc(row.at) or row.at)


# The admin service's own dataclass is the response: one definition of what outcomes are.
OutcomesOut = Outcomes


class SampleOut(BaseModel):
    id: str
    title: str
    source: str
