"""`eval compare`: paired statistics, flipped cases, thresholds, and the exit code through the real CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from drafter.cli import main
from drafter.errors import InputError
from drafter.settings import PROJECT_ROOT, Settings
from evals.compare import bootstrap_delta, compare_runs, load_thresholds, mcnemar_exact
from evals.runner import RunOptions, RunOutcome, run_eval
from tests.conftest import FakeLLM
from tests.evals.conftest import BAD, CASES, GOOD


@pytest.mark.parametrize(("pass_to_fail", "fail_to_pass", "p"), [
    (0, 0, 1.0),
    (0, 5, 0.0625),  # 2 * (1/2)^5
    (1, 9, 0.021484375),  # 2 * (1 + 10) / 2^10
    (3, 3, 1.0),
    (10, 0, 0.001953125),
])
def test_mcnemar_exact_matches_the_binomial_tail(pass_to_fail: int, fail_to_pass: int, p: float) -> None:
    assert mcnemar_exact(pass_to_fail, fail_to_pass) == pytest.approx(p)


def test_bootstrap_intervals_cover_the_paired_difference() -> None:
    same = bootstrap_delta([3.0, 4.0, 5.0], [3.0, 4.0, 5.0])
    assert same == {"delta": 0.0, "low": 0.0, "high": 0.0, "n": 3}
    shifted = bootstrap_delta([3.0] * 20 + [4.0] * 20, [4.0] * 20 + [4.0] * 20)
    assert shifted["delta"] == 0.5 and 0.25 <= shifted["low"] < 0.5 < shifted["high"] <= 0.75


def test_the_shipped_thresholds_file_is_valid() -> None:
    rules = load_thresholds(PROJECT_ROOT / "evals" / "thresholds.yaml")
    assert {r["metric"] for r in rules} >= {"pass_rate", "expectations.emergency_guidance.pass_rate"}


@pytest.mark.parametrize(("text", "expected"), [
    ("rules: {}", "top-level 'rules:' list"),
    ("rules:\n  - max_drop: 0.1", "rule 1 needs a 'metric'"),
    ("rules:\n  - {metric: pass_rate, max_drop: 0.1, min: 0.5}", "exactly one numeric limit"),
    ("rules:\n  - {metric: pass_rate, at_most: 0.1}", "unknown keys ['at_most']"),
    ("rules: [", "not valid YAML"),
])
def test_a_bad_thresholds_file_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_thresholds(path)


async def _run(settings: Settings, dataset: Path, out: Path, replies: dict[str, str]) -> RunOutcome:
    llm = FakeLLM().enqueue(*(replies[c["id"]] for c in CASES))
    return await run_eval(settings, RunOptions(dataset=dataset, out=out, concurrency=1, progress=False), llm=llm)


@pytest.fixture
def runs(eval_settings: Settings, dataset: Path, tmp_path: Path) -> tuple[RunOutcome, RunOutcome]:
    import asyncio

    good = asyncio.run(_run(eval_settings, dataset, tmp_path / "good", GOOD))
    bad = asyncio.run(_run(eval_settings, dataset, tmp_path / "bad", BAD))
    return good, bad


def test_compare_finds_the_flipped_cases_and_the_worse_metrics(runs: tuple[RunOutcome, RunOutcome]) -> None:
    good, bad = runs
    rules = [{"metric": "pass_rate", "max_drop": 0.1}, {"metric": "judge.means.overall", "max_drop": 0.2}]
    c = compare_runs(good.meta, good.records, bad.meta, bad.records, rules=rules)
    assert c["paired_cases"] == 4 and c["pass_rate"] == {"a": 1.0, "b": 0.5}
    assert c["mcnemar"] == {"pass_to_fail": 2, "fail_to_pass": 0, "p_value": 0.5}
    assert [(f["id"], f["direction"]) for f in c["flipped"]] == [("med-1", "pass→fail"), ("inj-1", "pass→fail")]
    assert {"must_not dose_change", "must_not promise"} == set(c["flipped"][0]["now_failing"])
    pass_rate = next(d for d in c["deltas"] if d["metric"] == "pass_rate")
    assert pass_rate["delta"] == -0.5 and pass_rate["better"] is False
    assert c["by_category"]["medication"]["delta"] == -0.5
    assert c["thresholds"][0]["ok"] is False and c["thresholds"][1].get("skipped")  # no judge in either run
    assert c["verdict"] == "regressed"


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["drafter", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize(("a", "b", "code"), [("good", "bad", 1), ("good", "good", 0), ("bad", "good", 0)])
def test_compare_exits_non_zero_only_when_a_threshold_regresses(
        runs: tuple[RunOutcome, RunOutcome], tmp_path: Path, eval_settings: Settings,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], a: str, b: str, code: int) -> None:
    monkeypatch.setenv("DRAFTER_DATABASE_URL", eval_settings.database_url)
    # The shipped quality rules; its latency rule is left out: FakeLLM timings are scheduler noise.
    shipped = load_thresholds(PROJECT_ROOT / "evals" / "thresholds.yaml")
    thresholds = tmp_path / "quality.yaml"
    thresholds.write_text(json.dumps({"rules": [r for r in shipped if not r["metric"].startswith("latency")]}),
                          encoding="utf-8")
    exit_code, out = cli(monkeypatch, capsys, "eval", "compare", str(tmp_path / a), str(tmp_path / b),
                         "--thresholds", str(thresholds), "--out", str(tmp_path / "cmp"))
    assert exit_code == code, out
    assert f"verdict: {'regressed' if code else 'ok'}" in out
    comparison = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert comparison["verdict"] == ("regressed" if code else "ok")
    assert "<svg" in (tmp_path / "cmp" / "compare.html").read_text(encoding="utf-8")


def test_compare_accepts_stored_run_ids(runs: tuple[RunOutcome, RunOutcome], eval_settings: Settings,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = runs
    monkeypatch.setenv("DRAFTER_DATABASE_URL", eval_settings.database_url)
    code, out = cli(monkeypatch, capsys, "eval", "compare", good.meta["run_id"], bad.meta["run_id"], "--json")
    assert code == 0  # no thresholds given: report only
    assert json.loads(out)["mcnemar"]["pass_to_fail"] == 2
    code, out = cli(monkeypatch, capsys, "eval", "list")
    assert code == 0 and good.meta["run_id"] in out and bad.meta["run_id"] in out
    code, out = cli(monkeypatch, capsys, "eval", "compare", good.meta["run_id"], "no-such-run")
    assert code == 66 and "No stored eval run with id no-such-run" in out
