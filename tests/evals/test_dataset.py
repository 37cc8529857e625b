"""The dataset schema: the shipped set is valid and labelled in drafter's vocabularies; bad lines name file:line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from drafter.classify import Category
from drafter.errors import DatasetError
from drafter.settings import PROJECT_ROOT
from evals.dataset import load_dataset
from guardrails import Urgency
from tests.conftest import SHARED
from tests.evals.conftest import CASES, write_dataset

SHIPPED = PROJECT_ROOT / "evals" / "datasets" / "portal_v1.jsonl"


def test_the_shipped_dataset_is_valid_and_covers_what_the_real_set_lacks() -> None:
    cases = load_dataset(SHIPPED)
    assert len(cases) >= 200
    assert {c.category for c in cases} == set(Category)
    assert {c.urgency for c in cases} == set(Urgency)
    assert {c.language for c in cases} == {"en", "es"}
    assert {c.tone for c in cases} == {"anxious", "angry", "neutral", "grateful"}
    assert sum(c.injection for c in cases) >= 5 and sum(c.phi for c in cases) >= 5
    emergencies = [c for c in cases if c.urgency is Urgency.EMERGENCY]
    assert len(emergencies) >= 20 and all("emergency_guidance" in c.expectations.must for c in emergencies)
    assert all("spanish" in c.expectations.must for c in cases if c.language == "es")


def test_meqsum_cases_keep_their_file_ids_and_text() -> None:
    with (SHARED / "data" / "meqsum.csv").open(encoding="utf-8", newline="") as handle:
        real = {row["File"]: row["CHQ"].strip() for row in csv.DictReader(handle)}
    meqsum = [c for c in load_dataset(SHIPPED) if c.source == "meqsum"]
    assert len(meqsum) >= 100
    for case in meqsum:
        assert case.text == real[case.id]


def _line(**change: object) -> dict[str, object]:
    return {**CASES[1], **change}


@pytest.mark.parametrize(("lines", "expected"), [
    (["{not json"], ":1: not valid JSON"),
    ([_line(category="billing")], ":1: category: Input should be"),
    ([_line(urgency="soon")], ":1: urgency: Input should be"),
    ([_line(language="fr")], ":1: language: Value error, must be one of en, es"),
    ([CASES[0], _line(id="em-1")], ":2: id 'em-1' was already used on line 1"),
    ([_line(expectations={"must": ["be_nice"]})], ":1: expectations.must.0: Input should be"),
    ([_line(expectations={"must_not_match": ["(unclosed"]})], "is not a valid regular expression"),
    ([_line(tone="sad")], ":1: tone: Input should be"),
    ([{k: v for k, v in CASES[1].items() if k != "text"}], ":1: text: Field required"),
    ([_line(surprise=1)], ":1: surprise: Extra inputs are not permitted"),
])
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, lines: list[object], expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert f"{path}" in info.value.message and expected in info.value.message
    assert info.value.exit_code == 65


def test_every_bad_line_is_listed_and_good_lines_are_not(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([json.dumps(CASES[0]), "[]", json.dumps(CASES[1]), "{", ""]), encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.details["errors"] == [
        f"{path}:2: case: Input should be a valid dictionary or instance of EvalCase",
        f"{path}:4: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
    ]


@pytest.mark.parametrize(("content", "expected"), [
    (None, "No dataset at"),
    (b"", "holds no cases"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_unusable_files_say_what_to_do(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "d.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DatasetError, match=expected):
        load_dataset(path)


def test_a_written_dataset_loads_into_draft_requests(dataset: Path) -> None:
    cases = load_dataset(write_dataset(dataset, CASES))
    assert [c.id for c in cases] == ["em-1", "med-1", "es-1", "inj-1"]
    assert cases[2].request().message.language == "es"
