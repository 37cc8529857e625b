"""`eval run` end to end on scripted FakeLLM completions: records, reports, JUnit, resume, cache, judge, storage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from drafter.errors import DatasetError, InputError
from drafter.settings import Settings
from drafter.storage.engine import create_engine
from drafter.storage.repository import DraftStore
from evals.runner import RunOptions, RunOutcome, run_eval
from evals.store import EvalStore
from tests.conftest import FakeLLM
from tests.evals.conftest import BAD, CASES, GOOD, JUDGE_OK

pytestmark = pytest.mark.anyio


def scripted(replies: dict[str, str], ids: list[str] | None = None) -> FakeLLM:
    """A FakeLLM answering the cases in dataset order (the tests run at concurrency 1)."""
    llm = FakeLLM()
    llm.enqueue(*(replies[i] for i in (ids or [c["id"] for c in CASES])))
    return llm


async def run(settings: Settings, dataset: Path, out: Path, llm: FakeLLM, judge_llm: FakeLLM | None = None,
              **options: Any) -> RunOutcome:
    return await run_eval(settings, RunOptions(dataset=dataset, out=out, concurrency=1, progress=False, **options),
                          llm=llm, judge_llm=judge_llm)


async def test_a_run_records_every_case_and_writes_the_reports(eval_settings: Settings, dataset: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "run"
    outcome = await run(eval_settings, dataset, out, scripted(BAD))
    by_id = {r["id"]: r for r in outcome.records}

    assert [r["id"] for r in outcome.records] == ["em-1", "med-1", "es-1", "inj-1"]
    assert by_id["em-1"]["passed"] and by_id["em-1"]["urgency_predicted"] == "emergency"
    med = by_id["med-1"]
    assert not med["passed"]
    failed = {e["name"] for e in med["expectations"] if not e["passed"]}
    assert failed == {"dose_change", "promise"}
    assert {"directives", "promises"} <= {f["check"] for f in med["findings"]}
    assert by_id["es-1"]["passed"] and by_id["es-1"]["reading_grade"] is None
    assert [e["passed"] for e in by_id["inj-1"]["expectations"]] == [True, False]
    assert med["prompt_tokens"] == 100 and med["word_count"] > 10 and not med["cached"]
    assert outcome.metrics["pass_rate"] == 0.5 and outcome.metrics["cost"]["usd"] == 0.0  # fake-model is priced at 0

    junit = ET.parse(out / "junit.xml").getroot()
    cases = junit.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["em-1", "med-1", "es-1", "inj-1"]
    failures = {c.get("name"): c.find("failure") for c in cases}
    assert failures["em-1"] is None and failures["es-1"] is None
    med_failure = failures["med-1"]
    assert med_failure is not None and "must_not:dose_change" in (med_failure.get("message") or "")
    assert junit.get("tests") == "4" and junit.get("failures") == "2"

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["run_id"] == outcome.meta["run_id"] and len(report["cases"]) == 4
    assert report["metrics"]["by_category"]["medication"]["pass_rate"] == 0.5

    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from anywhere


async def test_the_run_is_stored_in_the_main_database_not_the_inbox(eval_settings: Settings, dataset: Path,
                                                                    tmp_path: Path) -> None:
    outcome = await run(eval_settings, dataset, tmp_path / "run", scripted(GOOD))
    engine = create_engine(eval_settings.database_url)
    try:
        meta, records = await EvalStore(engine).load(outcome.meta["run_id"])
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
            from sqlalchemy import text
            inbox = (await conn.execute(text("SELECT count(*) FROM drafts"))).scalar()
        events = [e for e in await DraftStore(engine).audit_events() if e.action == "eval.run"]
    finally:
        await engine.dispose()
    assert [(e.entity_id, e.details["status"], e.details["cases"]) for e in events] == [
        (outcome.meta["run_id"], "complete", 4)]
    assert meta["template_set"] == outcome.meta["template_set"] and meta["status"] == "complete"
    assert [r["id"] for r in records] == ["em-1", "med-1", "es-1", "inj-1"] and all(r["passed"] for r in records)
    assert {"eval_runs", "eval_cases", "drafts"} <= set(tables)
    assert inbox == 0


async def test_an_interrupted_run_resumes_with_only_the_missing_cases(eval_settings: Settings, dataset: Path,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = await run(eval_settings, dataset, out, scripted(GOOD))
    # Simulate a crash after two cases: the third line was cut mid-write, and the cache was lost too.
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    (out / "results.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:40], encoding="utf-8")
    (out / "cache" / "completions.jsonl").unlink()

    llm = scripted(GOOD, ["es-1", "inj-1"])  # any extra request would fail: FakeLLM has nothing more queued
    second = await run(eval_settings, dataset, out, llm)

    assert len(llm.requests) == 2 and second.new_cases == 2
    assert second.meta["run_id"] == first.meta["run_id"]
    assert [r["id"] for r in second.records] == ["em-1", "med-1", "es-1", "inj-1"]
    assert second.metrics["pass_rate"] == 1.0


async def test_a_second_run_sharing_the_cache_calls_no_model(eval_settings: Settings, dataset: Path,
                                                             tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache.jsonl"
    first = await run(eval_settings, dataset, tmp_path / "a", scripted(BAD), cache=cache)
    idle = FakeLLM()  # raises on any request
    second = await run(eval_settings, dataset, tmp_path / "b", idle, cache=cache)

    assert idle.requests == [] and second.cache_hits == 4 and second.cache_misses == 0
    assert all(r["cached"] for r in second.records)
    assert [r["draft"] for r in second.records] == [r["draft"] for r in first.records]
    assert second.metrics["latency_ms"]["source"] == "cache"


async def test_a_changed_request_misses_the_cache(eval_settings: Settings, dataset: Path, tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache.jsonl"
    await run(eval_settings, dataset, tmp_path / "a", scripted(GOOD), cache=cache)
    hotter = eval_settings.model_copy(update={"llm_temperature": 0.9})
    llm = scripted(GOOD)
    outcome = await run(hotter, dataset, tmp_path / "b", llm, cache=cache)
    assert len(llm.requests) == 4 and outcome.cache_hits == 0


async def test_a_folder_of_another_experiment_is_not_resumed(eval_settings: Settings, dataset: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "run"
    await run(eval_settings, dataset, out, scripted(GOOD), limit=2)
    with pytest.raises(DatasetError, match="different limit"):
        await run(eval_settings, dataset, out, FakeLLM(), limit=3)


async def test_a_template_version_that_is_not_there_is_refused(eval_settings: Settings, dataset: Path,
                                                               tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is at version 2, not 9"):
        await run(eval_settings, dataset, tmp_path / "run", FakeLLM(), template_set="default@9")


async def test_a_model_failure_is_recorded_as_a_failed_case_not_a_crash(eval_settings: Settings, dataset: Path,
                                                                        tmp_path: Path) -> None:
    from drafter.errors import LLMUnavailableError

    llm = FakeLLM().enqueue(GOOD["em-1"], LLMUnavailableError("down"), GOOD["es-1"], GOOD["inj-1"])
    outcome = await run(eval_settings, dataset, tmp_path / "run", llm)
    med = next(r for r in outcome.records if r["id"] == "med-1")
    assert med["draft"] is None and med["error"] == "llm_unavailable" and not med["passed"]
    assert med["urgency_predicted"] == "routine"  # triage happened before the model call
    assert outcome.metrics["failed"] == 1 and outcome.meta["status"] == "partial"
    error = ET.parse(tmp_path / "run" / "junit.xml").getroot().find("./testsuite/testcase[@name='med-1']/error")
    assert error is not None and error.get("type") == "llm_unavailable"


@pytest.mark.parametrize(("answer", "scored"), [
    (JUDGE_OK, True),
    ("```json\n" + JUDGE_OK + "\n```", True),
    ("Sure! " + JUDGE_OK, False),
    ('{"empathy": 6, "partnership": 3, "calm_clarity": 5, "accuracy_safety": 4, "overall": 4}', False),
    ('{"empathy": "4", "partnership": 3, "calm_clarity": 5, "accuracy_safety": 4, "overall": 4}', False),
    ('{"empathy": 4, "partnership": 3, "calm_clarity": 5, "accuracy_safety": 4}', False),
])
async def test_the_judge_scores_strict_json_and_names_its_model(eval_settings: Settings, dataset: Path,
                                                                tmp_path: Path, answer: str, scored: bool) -> None:
    judge = FakeLLM(name="judge-model")
    judge.default = answer
    outcome = await run(eval_settings, dataset, tmp_path / "run", scripted(GOOD), judge=True, judge_llm=judge)
    verdicts = [r["judge"] for r in outcome.records]
    assert all(v["model"] == "judge-model" for v in verdicts)
    assert len(judge.requests) == 4
    system, user = judge.requests[0].messages
    assert "Score each criterion" in system.content and "<draft_reply>" in user.content
    summary = outcome.metrics["judge"]
    if scored:
        assert summary["means"]["overall"] == 4.0 and summary["failures"] == 0
    else:
        assert summary["scored"] == 0 and summary["failures"] == 4
        assert all(v["error"].startswith("judge answer rejected") for v in verdicts)
    assert outcome.meta["judge_model"] == "judge-model"
    assert all(r.messages[1].content.count("</draft_reply>") == 1 for r in judge.requests)
    assert "judge-model" in (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
