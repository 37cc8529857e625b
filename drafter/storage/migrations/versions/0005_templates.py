"""Reserved for issue 8 (template versions, labels, gate results): a no-op until that work lands.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The revision numbers are fixed up front so that parallel branches of work chain without conflicts.
    pass


def downgrade() -> None:
    pass
