"""Inbox (issue 9): pre-generation claims, clinicians' quick feedback, FHIR Communication links.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # When a worker took a queued draft: a draft left 'generating' long after it was claimed was abandoned by a
    # process that died, and is resumed.
    op.add_column("drafts", sa.Column("claimed_at", TS, nullable=True))
    op.create_table(
        "draft_feedback",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("draft_id", sa.String(36), sa.ForeignKey("drafts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_draft_feedback_draft_id", "draft_feedback", ["draft_id"])
    op.create_table(
        "fhir_communications",
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("sender", sa.String(300), nullable=True),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fhir_communications")
    op.drop_index("ix_draft_feedback_draft_id", table_name="draft_feedback")
    op.drop_table("draft_feedback")
    with op.batch_alter_table("drafts") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("claimed_at")
