"""Settings: every field documented in .env.example, env names, fallbacks and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drafter.errors import ConfigError
from drafter.settings import PROJECT_ROOT, Settings, load_settings


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"DRAFTER_([A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text()))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields == documented


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.uses_local_model
    assert settings.database_url == "sqlite:///var/drafter.db"


def test_env_and_openai_key_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAFTER_LLM_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    settings = load_settings()
    assert not settings.uses_local_model
    assert settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() == "sk-fallback"
    monkeypatch.setenv("DRAFTER_LLM_API_KEY", "sk-own")
    assert load_settings().llm_api_key.get_secret_value() == "sk-own"  # type: ignore[union-attr]


def test_dotenv_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DRAFTER_MAX_MESSAGE_CHARS=500\n")
    assert load_settings().max_message_chars == 500


@pytest.mark.parametrize(
    ("name", "value", "mentions"),
    [
        ("DRAFTER_LLM_TIMEOUT_S", "-1", "DRAFTER_LLM_TIMEOUT_S"),
        ("DRAFTER_LLM_TIMEOUT_S", "soon", "DRAFTER_LLM_TIMEOUT_S"),
        ("DRAFTER_DATABASE_URL", "mysql://x", "DRAFTER_DATABASE_URL"),
        ("DRAFTER_LLM_BASE_URL", "ftp://x", "DRAFTER_LLM_BASE_URL"),
        ("DRAFTER_LLM_MODE", "magic", "DRAFTER_LLM_MODE"),
        ("DRAFTER_MAX_MESSAGE_CHARS", "5", "DRAFTER_MAX_MESSAGE_CHARS"),
    ],
)
def test_invalid_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                            mentions: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert mentions in info.value.message


def test_secret_is_not_printed() -> None:
    settings = Settings(llm_api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(settings)
