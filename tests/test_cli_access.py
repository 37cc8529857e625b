"""`drafter users ...` and `drafter audit verify` through the real command line on a SQLite file."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from drafter.cli import main


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "access.db"
    monkeypatch.setenv("DRAFTER_DATABASE_URL", f"sqlite:///{path}")
    return path


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["drafter", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_users_lifecycle_and_audit(db: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(monkeypatch, capsys, "users", "create", "--name", "dr.lee", "--role", "clinician")
    assert code == 0
    token = out.split()[-1]  # the token is the last word
    assert token.startswith("drf_") and len(token) == 4 + 16 + 1 + 43
    with sqlite3.connect(db) as conn:
        stored = " ".join(str(v) for row in conn.execute("SELECT * FROM api_tokens") for v in row)
    assert token.split("_", 2)[2] not in stored  # only the hash of the secret is kept

    code, out, _ = run(monkeypatch, capsys, "users", "token", "--name", "dr.lee")
    second = out.split()[-1]
    assert code == 0 and second.startswith("drf_") and second != token

    code, out, _ = run(monkeypatch, capsys, "users", "list")
    assert code == 0 and "dr.lee" in out and "2 active token(s)" in out and token not in out

    code, out, _ = run(monkeypatch, capsys, "users", "revoke", "--token-id", second.split("_")[1])
    assert code == 0 and "Revoked token" in out
    code, out, _ = run(monkeypatch, capsys, "users", "revoke", "dr.lee")
    assert code == 0 and "1 token(s)" in out
    assert "revoked" in run(monkeypatch, capsys, "users", "list")[1]

    code, out, _ = run(monkeypatch, capsys, "audit", "verify")
    assert code == 0 and "audit chain OK: 5 events" in out
    anchor = out.split("--anchor ")[1].split()[0]

    with sqlite3.connect(db) as conn:  # an insider rewrites who created the second token
        conn.execute("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3")
    code, _, err = run(monkeypatch, capsys, "audit", "verify", "--anchor", anchor)
    assert code == 65
    assert "BROKEN at event seq 3" in err and "token.created" in err


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["users", "create", "--name", "x", "--role", "nurse"], 65, "--role must be one of"),
        (["users", "create", "--name", "bad\nname", "--role", "qa"], 65, "A user name is"),
        (["users", "token", "--name", "nobody"], 66, "No user named"),
        (["users", "revoke", "nobody"], 66, "No user named"),
        (["users", "revoke"], 65, "either a user NAME or --token-id"),
    ],
)
def test_users_errors_are_clear(db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                args: list[str], code: int, says: str) -> None:
    got, _, err = run(monkeypatch, capsys, *args)
    assert got == code and says in err


def test_a_second_user_with_the_same_name_is_refused(db: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run(monkeypatch, capsys, "users", "create", "--name", "ana", "--role", "qa")[0] == 0
    code, _, err = run(monkeypatch, capsys, "users", "create", "--name", "ana", "--role", "admin")
    assert code == 65 and "exists already" in err
