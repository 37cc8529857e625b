"""Helpers shared by the inbox tests."""

from __future__ import annotations

from fastapi.testclient import TestClient

from drafter.identity import Role


def sign_in(http: TestClient, name: str = "Dr. Rivera", role: Role = Role.CLINICIAN) -> str:
    """Create a user on the running app, send its token from `http` from now on, and return the token."""
    accounts = http.app.state.authenticator.accounts  # type: ignore[attr-defined]
    assert http.portal is not None
    _, token = http.portal.call(lambda: accounts.create_user(name, role, actor="tests"))
    http.headers["Authorization"] = f"Bearer {token}"
    return str(token)
