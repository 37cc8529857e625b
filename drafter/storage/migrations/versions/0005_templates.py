"""Template administration: versions of template sets, labels and their history; drafts record their version.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Version 1 of each set is seeded from the files in prompts/ at service start (drafter.templates.store),
    # not here: the folder and set name are settings the migration does not know.
    op.create_table(
        "template_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("set_name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("validation", sa.JSON(), nullable=True),
        sa.Column("gate", sa.JSON(), nullable=True),
        sa.Column("published_at", TS, nullable=True),
        sa.Column("published_by", sa.String(200), nullable=True),
    )
    op.create_index("uq_template_versions_set_version", "template_versions", ["set_name", "version"], unique=True)
    op.create_table(
        "template_labels",
        sa.Column("set_name", sa.String(63), primary_key=True),
        sa.Column("label", sa.String(63), primary_key=True),
        sa.Column("version_id", sa.String(36), sa.ForeignKey("template_versions.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("moved_at", TS, nullable=False),
        sa.Column("moved_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "template_label_moves",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("set_name", sa.String(63), nullable=False),
        sa.Column("label", sa.String(63), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_template_label_moves_set_label", "template_label_moves", ["set_name", "label"])
    op.add_column("drafts", sa.Column("template_version_id", sa.String(36), nullable=True))
    op.create_index("ix_drafts_template_version_id", "drafts", ["template_version_id"])


def downgrade() -> None:
    op.drop_index("ix_drafts_template_version_id", table_name="drafts")
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("template_version_id")
    op.drop_index("ix_template_label_moves_set_label", table_name="template_label_moves")
    op.drop_index("uq_template_versions_set_version", table_name="template_versions")
    for table in ("template_label_moves", "template_labels", "template_versions"):
        op.drop_table(table)
