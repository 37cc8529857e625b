"""Reserved for issue 9 (pre-generation jobs, FHIR links): a no-op until that work lands.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The revision numbers are fixed up front so that parallel branches of work chain without conflicts.
    pass


def downgrade() -> None:
    pass
