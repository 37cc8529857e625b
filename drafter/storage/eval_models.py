"""Stored eval runs and their per-case results (issue 6): read by the template publishing gate and the admin UI.

Eval drafts themselves never enter the clinicians' tables: the runner keeps the pipeline's rows in a SQLite
file inside the run folder, and only the summary and the per-case results land here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from drafter.storage.models import Base, utcnow


class EvalRun(Base):
    __tablename__ = "eval_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # complete | partial (some cases failed to draft)
    dataset: Mapped[str] = mapped_column(Text)
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    template_set: Mapped[str] = mapped_column(String(200), index=True)
    model: Mapped[str] = mapped_column(String(200))
    judge_model: Mapped[str | None] = mapped_column(String(200))
    out_dir: Mapped[str] = mapped_column(Text)
    cases: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)
    pass_rate: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)

    results: Mapped[list[EvalCaseResult]] = relationship(
        back_populates="run", order_by="EvalCaseResult.position", cascade="all, delete-orphan")


class EvalCaseResult(Base):
    __tablename__ = "eval_cases"
    __table_args__ = (UniqueConstraint("run_id", "case_id", name="uq_eval_cases_run_case"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    urgency_expected: Mapped[str] = mapped_column(String(16))
    urgency_predicted: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    passed: Mapped[bool] = mapped_column(Boolean)
    draft: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cached: Mapped[bool] = mapped_column(Boolean)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the whole per-case record (expectations, ...)

    run: Mapped[EvalRun] = relationship(back_populates="results")
