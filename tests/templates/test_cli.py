"""`drafter templates ...` end to end on a temporary SQLite database (no model is started for these commands)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from drafter.cli import main
from tests.templates.conftest import DEFAULT_DIR


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DRAFTER_LLM_BASE_URL", "http://llm.invalid/v1")
    monkeypatch.setenv("DRAFTER_LLM_API_KEY", "sk-test")
    monkeypatch.setenv("DRAFTER_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("DRAFTER_TEMPLATE_GATE", "off")  # the gate with evals is tested through the API
    return tmp_path


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["drafter", "templates", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def edited_copy(tmp: Path, name: str, **replacements: str) -> Path:
    folder = tmp / name
    shutil.copytree(DEFAULT_DIR, folder)
    for file, text in replacements.items():
        (folder / file.replace("__", "/")).write_text(text, encoding="utf-8")
    return folder


def test_list_create_diff_publish_rollback(env: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(monkeypatch, capsys, "list")
    assert code == 0 and out.startswith("default\t1 version(s), latest 1\tproduction@1")
    system = (DEFAULT_DIR / "system.j2").read_text(encoding="utf-8")
    folder = edited_copy(env, "edit", **{"system.j2": system + "\nKeep replies under 150 words.\n"})
    code, out, _ = run(monkeypatch, capsys, "create", "default", str(folder), "-m", "shorter", "--based-on", "1")
    assert code == 0 and "created default@2 (draft)" in out
    code, out, _ = run(monkeypatch, capsys, "diff", "default", "1", "2")
    assert code == 0 and "+Keep replies under 150 words." in out and "+++ default@2/system.j2" in out
    code, _, err = run(monkeypatch, capsys, "publish", "default", "2")
    assert code == 65 and "gate_blocked" in err and "DRAFTER_TEMPLATE_GATE=off" in err
    code, out, _ = run(monkeypatch, capsys, "publish", "default", "2", "--override-reason",
                       "Shorter replies agreed with the clinic lead.")
    assert code == 0 and "default@2 is in production (gate overridden)" in out
    code, out, _ = run(monkeypatch, capsys, "list", "default")
    lines = out.splitlines()
    assert lines[0].startswith("default@2\tpublished [production]\tvalid=yes gate=unavailable\tcli:")
    assert lines[1].startswith("default@1\tarchived")
    code, out, _ = run(monkeypatch, capsys, "show", "default", "--file", "system.j2")
    assert code == 0 and out.endswith("Keep replies under 150 words.\n")
    code, out, _ = run(monkeypatch, capsys, "rollback", "default", "--reason", "back to the long form")
    assert code == 0 and "default@1 is in production again" in out
    code, out, _ = run(monkeypatch, capsys, "show", "default@production", "--json")
    assert code == 0 and '"version": 1' in out


def test_validate_prints_file_line_column_and_exits_65(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    user = (DEFAULT_DIR / "user.j2").read_text(encoding="utf-8")
    folder = edited_copy(env, "broken", **{"user.j2": user.replace("{{ signoff }}", "{{ signoff }"),
                                           "partials__principles__calm.j2": "{{ mood }}"})
    code, out, err = run(monkeypatch, capsys, "validate", str(folder))
    assert code == 65 and "template_invalid" in err
    assert "user.j2:11:" in out and "unexpected '}'" in out
    assert "partials/principles/calm.j2:1:4: error:" in out and "'mood'" in out
    code, out, _ = run(monkeypatch, capsys, "validate", str(DEFAULT_DIR))
    assert code == 0 and "valid" in out.splitlines()[-1]
    assert "rendered 56/56 sample contexts" in out


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [(("show", "default@9"), 66, "no version 9"), (("show", "Bad Name"), 65, "not a valid name"),
     (("diff", "default", "1", "5"), 66, "no version 5"), (("rollback", "default", "--reason", "x"), 65, "first")],
)
def test_errors_have_codes(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                           args: tuple[str, ...], code: int, words: str) -> None:
    got, _, err = run(monkeypatch, capsys, *args)
    assert got == code and words in err
