"""Every backend configuration the README documents builds the right client and drafts through it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import respx

from drafter.llm.base import ChatMessage, LLMRequest
from drafter.llm.factory import open_backend
from drafter.settings import PROJECT_ROOT, load_settings

BLOCK = re.compile(r"```env backend=(?P<name>[\w-]+)\n(?P<body>.*?)```", re.DOTALL)
EXAMPLES = {m["name"]: m["body"] for m in BLOCK.finditer((PROJECT_ROOT / "README.md").read_text())}


def test_the_readme_documents_each_backend() -> None:
    assert set(EXAMPLES) == {"openai", "azure-openai", "vllm", "ollama", "llama-cpp"}


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(EXAMPLES))
async def test_readme_backend_example(name: str, tmp_path: Path, anyio_backend: str) -> None:
    (tmp_path / ".env").write_text(EXAMPLES[name])  # the tests run in tmp_path, so this is the .env read
    settings = load_settings()
    assert settings.llm_base_url is not None and settings.llm_model is not None
    mode = "completion" if settings.llm_mode == "completion" else "chat"
    reply = ({"choices": [{"index": 0, "text": "Thank you.", "finish_reason": "stop"}], "object": "text_completion"}
             if mode == "completion" else
             {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Thank you."},
                           "finish_reason": "stop"}], "object": "chat.completion"})
    body = {"id": "x", "created": 0, "model": settings.llm_model, "usage": {"prompt_tokens": 5,
            "completion_tokens": 2, "total_tokens": 7}, **reply}
    with respx.mock(base_url=settings.llm_base_url.rstrip("/")) as router:
        route = router.post("/completions" if mode == "completion" else "/chat/completions").respond(json=body)
        async with open_backend(settings) as backend:
            assert backend.local is None and backend.llm.prompt_mode == mode
            result = await backend.llm.complete(LLMRequest(mode=mode, prompt="Reply:",  # type: ignore[arg-type]
                                                           messages=(ChatMessage("user", "hi"),)))
    assert result.text == "Thank you."
    sent = json.loads(route.calls.last.request.content)
    assert sent["model"] == settings.llm_model
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    assert route.calls.last.request.headers["authorization"] == f"Bearer {key}"
