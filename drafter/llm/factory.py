"""Build the configured LLM backend (and the local model server when no endpoint is configured)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from drafter.llm.base import LLM, PromptMode
from drafter.llm.local import MODEL_ALIAS, MODEL_LABEL, LocalModelServer
from drafter.llm.openai_backend import OpenAIBackend
from drafter.llm.retry import RetryPolicy
from drafter.settings import Settings

DEFAULT_REMOTE_MODEL = "gpt-4o-mini"


@dataclass(frozen=True, slots=True)
class Backend:
    llm: LLM
    local: LocalModelServer | None  # set when the embedded model serves drafts

    @property
    def demo(self) -> bool:
        """True for the embedded demo model, whose drafts are not for clinical use."""
        return self.local is not None


def retry_policy(settings: Settings) -> RetryPolicy:
    """The retry policy from settings."""
    return RetryPolicy(max_attempts=settings.llm_max_attempts, budget_s=settings.llm_retry_budget_s,
                       initial_wait_s=settings.llm_retry_initial_wait_s, max_wait_s=settings.llm_retry_max_wait_s)


def _mode(settings: Settings, default: PromptMode) -> PromptMode:
    return default if settings.llm_mode == "auto" else settings.llm_mode


@asynccontextmanager
async def open_backend(settings: Settings) -> AsyncIterator[Backend]:
    """The openai-SDK backend against DRAFTER_LLM_BASE_URL, or against the local model it starts."""
    local: LocalModelServer | None = None
    if settings.uses_local_model:
        local = LocalModelServer(cache_dir=settings.local_model_cache_dir, port=settings.local_model_port,
                                 threads=settings.local_model_threads, ctx=settings.local_model_ctx,
                                 start_timeout_s=settings.local_model_start_timeout_s)
        await local.start()
        backend = OpenAIBackend(base_url=local.base_url, api_key=None, model=settings.llm_model or MODEL_ALIAS,
                                prompt_mode=_mode(settings, "completion"), timeout_s=settings.llm_timeout_s,
                                retry=retry_policy(settings), label=MODEL_LABEL,
                                max_response_bytes=settings.llm_max_response_bytes)
    else:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        backend = OpenAIBackend(base_url=settings.llm_base_url, api_key=key,
                                model=settings.llm_model or DEFAULT_REMOTE_MODEL, prompt_mode=_mode(settings, "chat"),
                                timeout_s=settings.llm_timeout_s, retry=retry_policy(settings),
                                max_response_bytes=settings.llm_max_response_bytes)
    try:
        yield Backend(backend, local)
    finally:
        await backend.aclose()
        if local is not None:
            await local.stop()
