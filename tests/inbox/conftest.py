"""Inbox fixtures: the shared ones, with a quick pre-generation sweep so resumed work starts within a test."""

from __future__ import annotations

import pytest

from drafter.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings (tests/conftest.py) plus a 50 ms sweep of the database for waiting drafts."""
    return Settings(**settings.model_dump(exclude_unset=True), pregenerate_sweep_s=0.05, _env_file=None)  # type: ignore[call-arg]
