"""Template fixtures: a migrated database with a DraftStore and a TemplateStore (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from drafter.llm.base import LLMRequest, LLMResult, Usage
from drafter.settings import PROJECT_ROOT, Settings
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.repository import DraftStore
from drafter.templates.store import TemplateStore, files_of_dir
from tests.conftest import GOOD_REPLY, FakeLLM

DEFAULT_DIR: Path = PROJECT_ROOT / "prompts" / "default"


@pytest.fixture
def default_files() -> dict[str, str]:
    return files_of_dir(DEFAULT_DIR)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(database_url)
    try:
        await upgrade(built)
        yield built
    finally:
        await built.dispose()


@pytest.fixture
async def drafts(engine: AsyncEngine) -> DraftStore:
    return DraftStore(engine)


@pytest.fixture
async def templates(drafts: DraftStore) -> TemplateStore:
    return TemplateStore(drafts)


MARKER = "Answer in as few words as possible."  # a candidate edit that makes the (scripted) model worse
BAD_REPLY = "Stop taking your medicine. It is nothing to worry about."


class PromptAwareLLM(FakeLLM):
    """The FakeLLM that answers badly whenever the prompt carries MARKER: a template edit that hurts drafts."""

    async def complete(self, request: LLMRequest) -> LLMResult:
        self.requests.append(request)
        text = request.prompt + "".join(m.content for m in request.messages)
        if MARKER in text:
            return LLMResult(text=BAD_REPLY, model="fake-model", usage=Usage(100, 10))
        return self._next()


@pytest.fixture
def fake_llm() -> FakeLLM:
    llm = PromptAwareLLM()
    llm.default = GOOD_REPLY
    return llm


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The shared test settings, with a small, fast eval gate (12 cases) writing under tmp_path.

    The gate keeps every rule of evals/thresholds.yaml except latency: a scripted model answers in microseconds,
    so its p95 latency is scheduler noise, not a property of the template.
    """
    rules = yaml.safe_load((PROJECT_ROOT / "evals" / "thresholds.yaml").read_text(encoding="utf-8"))["rules"]
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text(yaml.safe_dump({"rules": [r for r in rules if not r["metric"].startswith("latency")]}))
    return Settings(template_gate_thresholds=thresholds, database_url=f"sqlite:///{tmp_path}/drafter.db", llm_base_url="http://llm.invalid/v1",
                    llm_api_key="test-key", after_hours_phone="555-0100", practice_name="Test Clinic",
                    template_gate_limit=12, template_gate_dir=tmp_path / "gates", eval_judge="off")
