"""The bench runner: finds every bench module with main(), gathers rows into one table, survives a failing bench."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bench.__main__ import discover, run, table
from bench._spy import GUARDRAILS, MODEL, STORE, part_of, shares
from bench.report import Row, percentile, spread


def _module(name: str, main: Any) -> ModuleType:
    module = ModuleType(f"bench.{name}")
    module.main = main  # type: ignore[attr-defined]
    return module


def test_discovers_bench_modules_with_main_and_skips_helpers() -> None:
    found = discover()
    assert {"guardrails", "local_model", "overhead"} <= set(found)
    assert not {"report", "_profile", "_spy", "__main__"} & set(found)
    assert all(callable(m.main) for m in found.values())


def test_one_table_from_rows_printed_output_and_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, Any] = {}

    def with_rows(argv: list[str]) -> list[Row]:
        seen["argv"] = argv
        print("detail of the rows bench")
        return [Row("rows", "added p50 ms", "1.50 (1.2 to 1.9, 3 runs)", "<= 2", True),
                Row("rows", "ratio", "0.800x", ">= 0.9x", False)]

    def prints_only() -> None:
        import sys

        seen["sys.argv"] = list(sys.argv)
        print("a bench that only prints")

    def broken(argv: list[str]) -> None:
        raise RuntimeError("fake server did not start")

    modules = {"rows": _module("rows", with_rows), "printer": _module("printer", prints_only),
               "broken": _module("broken", broken)}
    results = tmp_path / "results.md"
    outcomes = run(modules, ["rows", "printer", "broken"], {"rows": ["--drafts", "5"], "printer": ["--rounds", "2"]},
                   results, "python -m bench")
    assert seen == {"argv": ["--drafts", "5"], "sys.argv": ["bench.printer", "--rounds", "2"]}
    assert [o.error for o in outcomes] == [None, None, "RuntimeError: fake server did not start"]
    text = results.read_text()
    assert "| rows | added p50 ms | 1.50 (1.2 to 1.9, 3 runs) | <= 2 | met |" in text
    assert "| rows | ratio | 0.800x | >= 0.9x | NOT met |" in text
    assert "| printer | see its section below |" in text
    assert "| broken | (failed) | RuntimeError: fake server did not start |  | failed |" in text
    assert "detail of the rows bench" in text and "a bench that only prints" in text
    assert "cores" in text  # the machine is printed beside the figures
    assert table(outcomes) in capsys.readouterr().out


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([5.0], 99, 5.0), ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0), (list(map(float, range(1, 101))), 99, 99.01),
])
def test_percentile(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "expected"), [
    ([1.234], "1.23"), ([3.0, 1.0, 2.0], "2.00 (1.00 to 3.00, 3 runs)"),
])
def test_spread(values: list[float], expected: str) -> None:
    assert spread(values) == expected


_MAIN = "thread (1): MainThread;<module> (drafter:10);Runner.run (asyncio/runners.py:118)"
_POOL = "thread (2): asyncio_0;Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:83)"


@pytest.mark.parametrize(("stack", "part"), [
    (f"{_MAIN};create_draft (drafter/api/routes/drafts.py:80);Pipeline.finish (drafter/pipeline.py:230)", GUARDRAILS),
    (f"{_POOL};DraftStore._in_twin (drafter/storage/repository.py:162);Session.execute (sqlalchemy/orm/session.py:1)",
     STORE),
    (f"{_MAIN};Pipeline.draft (drafter/pipeline.py:1);AsyncCompletions.create (openai/resources/chat.py:1)", MODEL),
    # cut short by py-spy: placed by its files
    ("thread (1): MainThread;Pattern.finditer (guardrails/checks/_prefilter.py:728)", GUARDRAILS),
    ("thread (1): MainThread;SocketStream.send (httpcore/_backends/anyio.py:1)", MODEL),
    (f"{_MAIN};solve_dependencies (fastapi/dependencies/utils.py:1)",
     "FastAPI: dependencies, validation, serialisation"),
    ("thread (1): MainThread;_caller (typing_extensions.py:166)", "other"),
    # waiting, not working
    ("thread (2): asyncio_0;Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:81)", None),
    (_MAIN, None),
])
def test_spy_places_each_sampled_stack(stack: str, part: str | None) -> None:
    assert part_of(stack) == part


def test_spy_shares_count_busy_samples_only() -> None:
    raw = (f"{_MAIN} 7\n{_MAIN};Pipeline.render (drafter/pipeline.py:1) 3\n"
           f"{_MAIN};solve_dependencies (fastapi/x.py:1) 1\n")
    counts, busy = shares(raw)
    assert busy == 4
    assert counts == {"prompt rendering and variables": 3, "FastAPI: dependencies, validation, serialisation": 1}
