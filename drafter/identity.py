"""Who is calling: roles and the authenticated principal (shared by the API, the CLI and the stores)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a user may do. ADMIN passes every role check."""

    CLINICIAN = "clinician"  # draft, read inbox, review
    QA = "qa"  # evals, read
    ADMIN = "admin"  # templates, users, everything


@dataclass(frozen=True)
class Principal:
    """An authenticated caller; `name` is the identity recorded as reviewer and audit actor."""

    user_id: str
    name: str
    role: Role
    token_id: str | None = None  # the API token's public id, or None for an OIDC access token

    def allowed(self, roles: frozenset[Role]) -> bool:
        """True when this principal may use something open to `roles` (ADMIN may use everything)."""
        return self.role is Role.ADMIN or self.role in roles
