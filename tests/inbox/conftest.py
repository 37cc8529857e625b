"""Inbox fixtures: the shared ones, with a quick pre-generation sweep so resumed work starts within a test."""

from __future__ import annotations

from pathlib import Path

import pytest

from drafter.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The shared test settings plus a 50 ms sweep of the database for waiting drafts."""
    return Settings(database_url=f"sqlite:///{tmp_path}/drafter.db", llm_base_url="http://llm.invalid/v1",
                    llm_api_key="test-key", after_hours_phone="555-0100", practice_name="Test Clinic",
                    pregenerate_sweep_s=0.05)

