"""Reserved for issue 7 (users, API tokens, audit of authentication): a no-op until that work lands.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The revision numbers are fixed up front so that parallel branches of work chain without conflicts.
    pass


def downgrade() -> None:
    pass
