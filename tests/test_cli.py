"""The drafter command, through the real openai-SDK backend against a respx-mocked OpenAI HTTP API."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from drafter.cli import main
from drafter.storage.engine import display_url
from drafter.storage.migrate import head_revision
from tests.conftest import GOOD_REPLY

BASE = "http://llm.test/v1"


def completion(text: str = GOOD_REPLY, finish_reason: str = "stop") -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DRAFTER_LLM_BASE_URL", BASE)
    monkeypatch.setenv("DRAFTER_LLM_API_KEY", "sk-test")
    monkeypatch.setenv("DRAFTER_LLM_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("DRAFTER_LLM_RETRY_INITIAL_WAIT_S", "0")
    db = tmp_path / "cli.db"
    monkeypatch.setenv("DRAFTER_DATABASE_URL", f"sqlite:///{db}")
    return db


@pytest.fixture
def llm() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str,
        stdin: bytes | None = None) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["drafter", *args])
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_draft_json_is_stored_and_printed(env: Path, llm: respx.MockRouter, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    route = llm.post("/chat/completions").respond(json=completion())
    code, out, _ = run(monkeypatch, capsys, "draft", "I've had a headache for three days", "--json")
    assert code == 0
    draft = json.loads(out)
    assert draft["status"] == "pending_review" and draft["text"] == GOOD_REPLY
    assert draft["usage"] == {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}
    assert draft["model"] == "gpt-test" and draft["message"]["source"] == "cli"
    sent = json.loads(route.calls.last.request.content)
    assert sent["model"] == "gpt-4o-mini" and sent["messages"][0]["role"] == "system"
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-test"
    assert env.exists()


def test_draft_human_output_shows_findings_and_overhead(env: Path, llm: respx.MockRouter,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    llm.post("/chat/completions").respond(json=completion("**Hi** " + GOOD_REPLY))
    code, out, _ = run(monkeypatch, capsys, "draft", "My knee hurts")
    assert code == 0
    assert "[warn] plain_text/markdown_emphasis @draft[0:6]" in out
    assert "service overhead" in out


def test_draft_reads_stdin(env: Path, llm: respx.MockRouter, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    llm.post("/chat/completions").respond(json=completion())
    code, out, _ = run(monkeypatch, capsys, "draft", "-", "--json", stdin=b"Necesito una cita, por favor")
    assert code == 0 and json.loads(out)["message"]["text"] == "Necesito una cita, por favor"


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "says"),
    [
        (("draft", "   "), None, 65, "message_empty"),
        (("draft", "x" * 20_001), None, 65, "message_too_long"),
        (("draft", "-"), b"\xff\xfe not utf-8", 65, "not UTF-8"),
        (("draft",), None, 2, "Missing argument"),
    ],
)
def test_bad_input_exit_codes(env: Path, llm: respx.MockRouter, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str], args: tuple[str, ...], stdin: bytes | None,
                              exit_code: int, says: str) -> None:
    code, out, err = run(monkeypatch, capsys, *args, stdin=stdin)
    assert code == exit_code
    assert says in out + err
    assert "Traceback" not in out + err


def test_llm_outage_exits_69_and_keeps_the_message(env: Path, llm: respx.MockRouter,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    route = llm.post("/chat/completions").respond(status_code=503, json={"error": {"message": "overloaded"}})
    monkeypatch.setenv("DRAFTER_LLM_FALLBACK", "false")  # with the fallback a template draft is printed instead
    code, _, err = run(monkeypatch, capsys, "draft", "Please call me about my results")
    assert code == 69 and "llm_unavailable" in err and "2 attempts" in err
    assert route.call_count == 2
    import sqlite3

    with sqlite3.connect(env) as db:
        assert db.execute("select text from messages").fetchall() == [("Please call me about my results",)]
        assert db.execute("select status, error_code from drafts").fetchall() == [("failed", "llm_unavailable")]


def test_connection_refused_is_clear(env: Path, llm: respx.MockRouter, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    llm.post("/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
    monkeypatch.setenv("DRAFTER_LLM_FALLBACK", "false")
    code, _, err = run(monkeypatch, capsys, "draft", "hello there")
    assert code == 69 and "DRAFTER_LLM_BASE_URL" in err


def test_invalid_setting_exits_78(env: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRAFTER_LLM_TIMEOUT_S", "never")
    code, _, err = run(monkeypatch, capsys, "draft", "hello")
    assert code == 78 and "DRAFTER_LLM_TIMEOUT_S" in err


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unusable_proxy_stops_the_start_with_exit_78(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], command: str) -> None:
    """Checked before uvicorn starts (whose lifespan would print a traceback and exit 3) and before a worker runs."""
    monkeypatch.setenv("HTTPS_PROXY", "ftp://proxy.example:2121")
    code, _, err = run(monkeypatch, capsys, command)
    assert code == 78 and "HTTPS_PROXY" in err and "ftp://proxy.example:2121" in err


def test_db_upgrade(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(monkeypatch, capsys, "db", "upgrade")
    assert code == 0 and f"is at revision {head_revision()}" in out
    assert run(monkeypatch, capsys, "db", "upgrade")[0] == 0  # idempotent


def test_doctor_reports_backend_and_timing(env: Path, llm: respx.MockRouter, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    llm.get("/models").respond(json={"object": "list", "data": [{"id": "gpt-test", "object": "model",
                                                                  "created": 0, "owned_by": "x"}]})
    llm.post("/chat/completions").respond(json=completion("OK"))
    code, out, _ = run(monkeypatch, capsys, "doctor")
    assert code == 0
    assert BASE in out and "reachable:  yes" in out and "model:      gpt-test" in out and " ms for " in out


def test_doctor_unreachable(env: Path, llm: respx.MockRouter, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    llm.get("/models").mock(side_effect=httpx.ConnectError("refused"))
    code, _, err = run(monkeypatch, capsys, "doctor")
    assert code == 69 and "Cannot reach" in err


def test_llm_outage_with_the_fallback_prints_a_labelled_template_draft(
        env: Path, llm: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    llm.post("/chat/completions").respond(status_code=503, json={"error": {"message": "overloaded"}})
    code, out, _ = run(monkeypatch, capsys, "draft", "Please call me about my results")
    assert code == 0
    assert "model template-fallback" in out and "fallback/template_only" in out and "Not written by AI" in out


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://drafter:s3cret@db.example:5432/drafter", "postgresql://drafter:***@db.example:5432/drafter"),
    ("postgresql://drafter@db.example/drafter", "postgresql://drafter@db.example/drafter"),
    ("sqlite:///var/drafter.db", "sqlite:///var/drafter.db"),
    ("not a url at all", "<unparseable database URL>"),
])
def test_database_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert display_url(url) == shown
