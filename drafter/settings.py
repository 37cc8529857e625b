"""Settings read from the environment and `.env`; built once at the entry point and passed in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from drafter.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LLMMode = Literal["auto", "chat", "completion"]


class Settings(BaseSettings):
    """Every knob of the service; each maps to a `DRAFTER_*` variable documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_prefix="DRAFTER_", env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # LLM backend. No base URL means the embedded local model (llama.cpp server + Gemma 3 270M).
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DRAFTER_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_model: str | None = None
    llm_mode: LLMMode = "auto"
    llm_timeout_s: float = Field(default=60.0, gt=0, le=600)
    llm_max_attempts: int = Field(default=4, ge=1, le=20)
    llm_retry_budget_s: float = Field(default=90.0, gt=0, le=3600)
    llm_retry_initial_wait_s: float = Field(default=0.5, ge=0, le=60)
    llm_retry_max_wait_s: float = Field(default=20.0, ge=0, le=600)
    llm_max_tokens: int = Field(default=350, ge=16, le=8192)
    llm_temperature: float = Field(default=0.3, ge=0, le=2)

    # Fault tolerance: a cap on the reply's size, a circuit breaker, a template-only fallback draft, and a cap on
    # concurrent LLM calls with a bounded wait queue (503 + Retry-After when it is full).
    llm_max_response_bytes: int = Field(default=1_048_576, ge=16_384, le=67_108_864)
    llm_breaker_threshold: int = Field(default=5, ge=1, le=1000)
    llm_breaker_cooldown_s: float = Field(default=30.0, gt=0, le=3600)
    llm_fallback: bool = True
    llm_fallback_template_set: str = "fallback"
    llm_max_concurrency: int = Field(default=64, ge=1, le=10_000)
    llm_max_queue: int = Field(default=256, ge=0, le=100_000)
    llm_queue_timeout_s: float = Field(default=30.0, gt=0, le=600)

    # Embedded local model (used only when llm_base_url is unset).
    local_model_cache_dir: Path = Path.home() / ".cache" / "drafter"
    local_model_port: int = Field(default=0, ge=0, le=65535)  # 0: pick a free loopback port
    local_model_threads: int = Field(default=2, ge=1, le=256)
    local_model_ctx: int = Field(default=2048, ge=512, le=32768)
    local_model_start_timeout_s: float = Field(default=120.0, gt=0, le=1800)

    # Storage.
    database_url: str = "sqlite:///var/drafter.db"
    database_echo: bool = False
    database_pool_size: int = Field(default=20, ge=1, le=1000)  # PostgreSQL connections kept open per process
    database_max_overflow: int = Field(default=10, ge=0, le=1000)  # extra ones opened in bursts, closed after

    # Prompts.
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    template_set: str = "default"

    # Limits.
    max_message_chars: int = Field(default=20_000, ge=100, le=1_000_000)
    max_request_bytes: int = Field(default=262_144, ge=1_024, le=16_777_216)

    # Practice policy the drafts must carry.
    practice_name: str = "our practice"
    after_hours_phone: str = "the after-hours line"
    emergency_number: str = "911"
    crisis_line: str = "988"

    # Pre-generation (issue 9): drafts for messages accepted by POST /v1/messages or FHIR are written in the
    # background by this many in-process workers; the database holds what waits, so a restart loses nothing.
    pregenerate_workers: int = Field(default=1, ge=1, le=32)
    pregenerate_queue_size: int = Field(default=100, ge=1, le=100_000)
    pregenerate_sweep_s: float = Field(default=5.0, gt=0, le=3600)
    pregenerate_stale_after_s: float = Field(default=600.0, gt=0, le=86_400)
    # Scale-out (issue 10): with a Redis URL, accepted drafts go to a job queue on Redis (saq) that `drafter worker`
    # processes drain, and the API process drafts nothing itself; empty keeps the in-process workers above.
    queue_url: str = ""  # e.g. redis://127.0.0.1:6379/0
    queue_name: str = Field(default="drafter", pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # one queue per deployment
    queue_concurrency: int = Field(default=10, ge=1, le=1000)  # drafts one `drafter worker` writes at once
    # `drafter worker` serves its drafting metrics (LLM latency and tokens, findings, drafts, steps) in Prometheus'
    # format on 127.0.0.1:PORT/metrics; 0 = off, since several workers on one machine each need their own port.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)

    # Service.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    http_keep_alive_s: int = Field(default=75, ge=1, le=3600)  # idle keep-alive of `drafter serve`
    # OpenTelemetry spans per draft and pipeline step (drafter.tracing): off, otlp (HTTP to the standard
    # OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318) or console (JSON on stderr).
    tracing: Literal["off", "otlp", "console"] = "off"
    tracing_service_name: str = Field(default="drafter", min_length=1, max_length=100)

    # Access (issue 7). Rate limits use the `limits` notation, e.g. "600/minute" or "20/second;600/minute".
    rate_limit: str = "600/minute"  # per API token (or OIDC subject)
    auth_failure_limit: str = "30/minute"  # failed authentications per client address
    rate_limit_storage_url: str = "memory://"  # or redis://host:6379 (needs the coredis package) to share limits
    oidc_issuer: str | None = None  # OIDC is on when issuer, audience and JWKS URL are all set
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_role_claim: str = "role"  # a dotted path, e.g. realm_access.roles; a string or a list of role names
    oidc_name_claim: str = "preferred_username"  # falls back to sub
    oidc_algorithms: str = "RS256,ES256"
    frame_ancestors: str = ""  # portal origins allowed to frame our pages, space-separated; empty: none

    @field_validator("rate_limit", "auth_failure_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("use the limits notation, e.g. 600/minute or 20/second;600/minute") from None
        return value

    @field_validator("queue_url")
    @classmethod
    def _queue_url(cls, value: str) -> str:
        if value.strip() and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("use redis://host:6379/0 (or rediss://, unix://), or leave it empty (in-process workers)")
        return value.strip()

    @field_validator("frame_ancestors")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in value.replace(",", " ").split():
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin):
                raise ValueError(f"{origin!r} is not an origin; use e.g. https://portal.example.org")
        return value

    @property
    def frame_ancestor_list(self) -> list[str]:
        """The configured portal origins that may embed our pages in an iframe."""
        return self.frame_ancestors.replace(",", " ").split()

    @property
    def oidc_enabled(self) -> bool:
        """True when OIDC access tokens are accepted besides API tokens."""
        return bool(self.oidc_issuer and self.oidc_audience and self.oidc_jwks_url)

    # Offline evals (drafter eval). The LLM judge is configured apart from the drafting model; "auto" turns it
    # on unless it would be the embedded demo model. Unset judge URL/key/model fall back to the drafting ones.
    eval_judge: Literal["auto", "on", "off"] = "auto"
    eval_judge_base_url: str | None = None
    eval_judge_api_key: SecretStr | None = None
    eval_judge_model: str | None = None
    eval_prices_file: Path = PROJECT_ROOT / "evals" / "prices.yaml"

    # Template publishing gate (issue 8): the eval set run on the candidate and on production, compared with the
    # thresholds file; a limit bounds how many cases each gate run drafts (the completion cache is shared).
    template_gate: Literal["evals", "off"] = "evals"
    template_gate_dataset: Path = PROJECT_ROOT / "evals" / "datasets" / "portal_v1.jsonl"
    template_gate_thresholds: Path = PROJECT_ROOT / "evals" / "thresholds.yaml"
    template_gate_limit: int | None = Field(default=60, ge=1, le=100_000)
    template_gate_concurrency: int = Field(default=8, ge=1, le=256)
    template_gate_dir: Path = Path("var") / "template-gates"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("use sqlite:///path/to/file.db or postgresql://user@host:port/dbname")
        return value

    @field_validator("llm_base_url", "eval_judge_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and value.strip() == "":
            return None
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:8080/v1)")
        return value

    @property
    def uses_local_model(self) -> bool:
        """True when no endpoint is configured, so the embedded model serves drafts."""
        return self.llm_base_url is None


def load_settings(**overrides: object) -> Settings:
    """Build settings from env/.env (plus overrides), turning validation errors into a ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]).upper() or "SETTINGS"
            name = field if field.startswith(("DRAFTER_", "OPENAI_")) else f"DRAFTER_{field}"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("Invalid settings: " + "; ".join(problems), details={"problems": problems}) from None
