"""The judge is off by default when it would be the embedded demo model, and on when an endpoint exists."""

from __future__ import annotations

import pytest

from drafter.settings import Settings
from evals.runner import judge_enabled


@pytest.mark.parametrize(("settings", "flag", "enabled"), [
    ({}, None, False),  # embedded demo model drafts; the judge would be it too
    ({"eval_judge_base_url": "http://judge.test/v1"}, None, True),  # a judge endpoint of its own
    ({"llm_base_url": "http://llm.test/v1"}, None, True),  # falls back to the drafting endpoint
    ({"llm_base_url": "http://llm.test/v1", "eval_judge": "off"}, None, False),
    ({"eval_judge": "on"}, None, True),
    ({"llm_base_url": "http://llm.test/v1"}, False, False),  # --no-judge wins
    ({}, True, True),  # --judge wins
])
def test_judge_default(settings: dict[str, str], flag: bool | None, enabled: bool) -> None:
    assert judge_enabled(Settings(**settings), flag) is enabled  # type: ignore[arg-type]
