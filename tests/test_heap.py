"""The startup heap is frozen once per process, after the server, a queue worker or an eval run has started."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drafter import heap
from drafter.api.app import create_app
from drafter.settings import Settings
from evals.runner import RunOptions, run_eval
from tests.conftest import FakeLLM
from tests.evals.conftest import CASES, GOOD, write_dataset


@pytest.fixture
def freezes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Calls to gc.collect and gc.freeze, on a process that has not frozen yet."""
    calls: list[str] = []
    monkeypatch.setattr(heap, "_frozen", False)

    def collect(*args: object) -> int:
        calls.append("collect")
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    return calls


def test_freezing_collects_first_and_happens_once(freezes: list[str]) -> None:
    heap.freeze_startup_heap()
    heap.freeze_startup_heap()
    assert freezes == ["collect", "freeze"]


def test_the_server_freezes_once_started(freezes: list[str], settings: Settings, fake_llm: FakeLLM) -> None:
    with TestClient(create_app(settings, llm=fake_llm)) as client:
        assert freezes == ["collect", "freeze"]
        assert client.get("/healthz").status_code == 200


@pytest.mark.anyio
async def test_an_eval_run_freezes_before_drafting(freezes: list[str], settings: Settings, fake_llm: FakeLLM,
                                                   tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "cases.jsonl", CASES[1:2])
    outcome = await run_eval(settings, RunOptions(dataset=dataset, out=tmp_path / "run", progress=False, judge=False,
                                                  store=False), llm=fake_llm.enqueue(GOOD["med-1"]))
    assert freezes == ["collect", "freeze"]
    assert outcome.metrics["cases"] == 1 and outcome.metrics["failed"] == 0
