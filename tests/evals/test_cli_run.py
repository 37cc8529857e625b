"""`drafter eval run` through the real CLI and openai-SDK backend (respx-mocked), and stored runs on both databases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
import respx

from drafter.cli import main
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from evals.store import EvalStore
from tests.evals.conftest import GOOD, JUDGE_OK

BASE = "http://llm.test/v1"


def completion(text: str) -> dict[str, object]:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}}


def test_eval_run_through_the_cli_drafts_judges_prices_and_resumes(
        dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRAFTER_LLM_BASE_URL", BASE)
    monkeypatch.setenv("DRAFTER_LLM_API_KEY", "sk-test")
    monkeypatch.setenv("DRAFTER_EVAL_JUDGE_BASE_URL", "http://judge.test/v1")
    monkeypatch.setenv("DRAFTER_EVAL_JUDGE_MODEL", "judge-large")
    monkeypatch.setenv("DRAFTER_DATABASE_URL", f"sqlite:///{tmp_path}/main.db")
    out = tmp_path / "run"
    argv = ["drafter", "eval", "run", "--dataset", str(dataset), "--out", str(out), "--limit", "2",
            "--concurrency", "2", "--template-set", "default@2"]
    with respx.mock(assert_all_called=True) as router:
        drafts = router.post(f"{BASE}/chat/completions").mock(
            side_effect=lambda request: httpx.Response(200, json=completion(GOOD["med-1"])))
        judge = router.post("http://judge.test/v1/chat/completions").respond(json=completion(JUDGE_OK))
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as done:
            main()
        assert done.value.code == 0
        assert drafts.call_count == 2 and judge.call_count == 2
        assert json.loads(judge.calls.last.request.content)["model"] == "judge-large"
        first = capsys.readouterr()
        assert "2 cases" in first.out and "judge: judge-large" in first.out
        assert "eval: 100%" in first.err  # the progress bar, on stderr

        with pytest.raises(SystemExit):  # the same command again: everything is done, nothing is asked again
            main()
        assert drafts.call_count == 2 and judge.call_count == 2
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    # gpt-4o-mini from evals/prices.yaml: 2 x (1000 x 0.15 + 100 x 0.60) / 1e6 for the drafts
    assert report["metrics"]["cost"]["usd"] == pytest.approx(2 * (1000 * 0.15 + 100 * 0.60) / 1e6)
    assert report["metrics"]["judge"]["model"] == "judge-large"
    assert report["run"]["model"] == "gpt-4o-mini" and report["run"]["template_set"] == "default@2"


@pytest.mark.anyio
async def test_a_stored_run_reads_back_on_sqlite_and_postgresql(database_url: str) -> None:
    engine = create_engine(database_url)
    meta = {"run_id": "8f6d1a9e-0000-4000-8000-000000000001", "created_at": "2026-11-23T18:00:00+00:00",
            "dataset": "d.jsonl", "dataset_sha256": "0" * 64, "template_set": "default@2", "model": "m",
            "judge_model": None, "out_dir": "/tmp/x", "concurrency": 4, "limit": None, "backend": "m"}
    record = {"id": "c1", "category": "symptom", "language": "en", "urgency_expected": "routine",
              "urgency_predicted": "routine", "status": "pending_review", "passed": True, "draft": "Hola ✓",
              "latency_ms": 12.5, "prompt_tokens": 3, "completion_tokens": 4, "cached": False, "expectations": []}
    metrics = {"cases": 1, "passed": 1, "pass_rate": 1.0}
    try:
        await upgrade(engine)
        store = EvalStore(engine)
        await store.save(meta, metrics, [record], status="complete")
        await store.save(meta, metrics, [record | {"passed": False}], status="complete")  # a resumed run replaces
        loaded_meta, records = await store.load(meta["run_id"])
        recent = await store.recent()
    finally:
        await engine.dispose()
    assert records == [record | {"passed": False}]
    assert loaded_meta["template_set"] == "default@2" and loaded_meta["concurrency"] == 4
    assert [r["run_id"] for r in recent] == [meta["run_id"]]
