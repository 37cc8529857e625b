"""The uvicorn --factory entry point builds the app from DRAFTER_* settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drafter.api.asgi import app_from_env
from drafter.errors import ConfigError


def test_factory_reads_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DRAFTER_DATABASE_URL", f"sqlite:///{tmp_path}/factory.db")
    monkeypatch.setenv("DRAFTER_LLM_BASE_URL", "http://127.0.0.1:9/v1")  # never contacted by /healthz
    with TestClient(app_from_env(), client=("127.0.0.1", 50123)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert "drafter_http_request_duration_seconds" in client.get("/metrics").text
    assert (tmp_path / "factory.db").exists()


def test_factory_refuses_invalid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTER_DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigError, match="DRAFTER_DATABASE_URL"):
        app_from_env()
