"""Messages, drafts, findings, reviews and the audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("urgency_rank", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("urgency_rank", sa.Integer(), nullable=False),
        sa.Column("message_received_at", TS, nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("template_set", sa.String(200), nullable=True),
        sa.Column("backend", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finish_reason", sa.String(32), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
    )
    op.create_index("ix_drafts_message_id", "drafts", ["message_id"])
    op.create_index("ix_drafts_inbox", "drafts", ["status", "urgency_rank", "message_received_at"])
    op.create_table(
        "findings",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("draft_id", sa.String(36), sa.ForeignKey("drafts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("target", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("span_start", sa.Integer(), nullable=True),
        sa.Column("span_end", sa.Integer(), nullable=True),
        sa.Column("suggestion", sa.Text(), nullable=True),
    )
    op.create_index("ix_findings_draft_id", "findings", ["draft_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("draft_id", sa.String(36), sa.ForeignKey("drafts.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("final_text", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("char_edit_distance", sa.Integer(), nullable=True),
        sa.Column("word_edit_distance", sa.Integer(), nullable=True),
        sa.Column("acknowledged_blocks", sa.Boolean(), nullable=False),
        sa.Column("seconds_to_decision", sa.Float(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )


def downgrade() -> None:
    for table in ("audit_events", "reviews", "findings", "drafts", "messages"):
        op.drop_table(table)
