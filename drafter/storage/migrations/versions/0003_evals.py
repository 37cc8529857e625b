"""Reserved for issue 6 (stored eval runs): a no-op until that work lands.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The revision numbers are fixed up front so that parallel branches of work chain without conflicts.
    pass


def downgrade() -> None:
    pass
