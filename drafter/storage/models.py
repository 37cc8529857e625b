"""Tables. PHI lives here and only here (never in logs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import uuid4

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the storage layer uses."""
    return datetime.now(UTC)


def new_id() -> str:
    """Random UUID4 as text: ids are safe to expose and do not leak volumes."""
    return str(uuid4())


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    source: Mapped[str] = mapped_column(String(32), default="api")
    urgency: Mapped[str] = mapped_column(String(16), default="routine")
    urgency_rank: Mapped[int] = mapped_column(Integer, default=2)
    request: Mapped[dict[str, Any]]  # patient, clinician, practice, context as supplied

    drafts: Mapped[list[Draft]] = relationship(back_populates="message", order_by="Draft.created_at")


class Draft(Base):
    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_inbox", "status", "urgency_rank", "message_received_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    # Copied from the message so the inbox query needs no join to sort.
    urgency_rank: Mapped[int] = mapped_column(Integer, default=2)
    message_received_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str | None] = mapped_column(Text)
    template_set: Mapped[str | None] = mapped_column(String(200))
    # The database template version that rendered the prompt (None for sets loaded from files).
    template_version_id: Mapped[str | None] = mapped_column(String(36), index=True)
    backend: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]  # when a pre-generation worker took it (issue 9)

    message: Mapped[Message] = relationship(back_populates="drafts")
    findings: Mapped[list[FindingRow]] = relationship(
        back_populates="draft", order_by="FindingRow.position", cascade="all, delete-orphan"
    )
    review: Mapped[Review | None] = relationship(back_populates="draft", uselist=False)


class FindingRow(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    check: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    span_start: Mapped[int | None] = mapped_column(Integer)
    span_end: Mapped[int | None] = mapped_column(Integer)
    suggestion: Mapped[str | None] = mapped_column(Text)

    draft: Mapped[Draft] = relationship(back_populates="findings")


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(200))
    final_text: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    char_edit_distance: Mapped[int | None] = mapped_column(Integer)
    word_edit_distance: Mapped[int | None] = mapped_column(Integer)
    acknowledged_blocks: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds_to_decision: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    draft: Mapped[Draft] = relationship(back_populates="review")


class AuditEvent(Base):
    """Append-only and hash-chained: each row carries the hash of the one before it."""

    __tablename__ = "audit_events"
    # One successor per event: two writers that read the same head cannot both append (the chain cannot fork).
    __table_args__ = (Index("ux_audit_events_prev_hash", "prev_hash", unique=True),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class User(Base):
    """Someone who calls the API: a name unique among local users and one role."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", order_by="ApiToken.created_at")


class ApiToken(Base):
    """A bearer token, stored as a public id and the SHA-256 of its secret half (the secret is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the public prefix, safe to log and list
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class DraftFeedback(Base):
    """A clinician's quick verdict on a draft: thumbs up or down plus reason tags (several per draft allowed)."""

    __tablename__ = "draft_feedback"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(200))
    user_name: Mapped[str] = mapped_column(String(200))
    rating: Mapped[str] = mapped_column(String(8))  # "up" | "down"
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FhirCommunication(Base):
    """The FHIR Communication a message arrived as: kept to answer in the same thread to the same patient."""

    __tablename__ = "fhir_communications"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))  # "Patient/123"
    sender: Mapped[str | None] = mapped_column(String(300))
    resource: Mapped[dict[str, Any]]  # as received, with our id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- template administration (issue 8) ----------------------------------------------------------------


class TemplateVersion(Base):
    """One immutable version of a template set: every file, who wrote it and why; status and gate result."""

    __tablename__ = "template_versions"
    __table_args__ = (Index("uq_template_versions_set_version", "set_name", "version", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    set_name: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    files: Mapped[dict[str, Any]]  # relative path -> text (manifest.yaml, *.j2, exemplars)
    checksum: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # draft | published | archived
    author: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    based_on: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    gate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(200))


class TemplateLabel(Base):
    """A named pointer (production, staging, any name) at one version of a set."""

    __tablename__ = "template_labels"

    set_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    label: Mapped[str] = mapped_column(String(63), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("template_versions.id"))
    version: Mapped[int] = mapped_column(Integer)
    moved_at: Mapped[datetime] = mapped_column(default=utcnow)
    moved_by: Mapped[str] = mapped_column(String(200))


class TemplateLabelMove(Base):
    """Every move of a label, oldest first: rollback walks this history back."""

    __tablename__ = "template_label_moves"
    __table_args__ = (Index("ix_template_label_moves_set_label", "set_name", "label"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    set_name: Mapped[str] = mapped_column(String(63))
    label: Mapped[str] = mapped_column(String(63))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # seed | publish | rollback | label
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# Tables of other features live in their own modules; importing them here registers them on Base.
from drafter.storage import eval_models  # noqa: E402, F401
