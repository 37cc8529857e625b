"""LLM-as-judge: a rubric scored 1-5 by a separately configured model, from the template set prompts/judge/.

The judge prompt renders in the same sandbox as the drafting prompts (patient text and the draft are
neutralised so they cannot close a block). Its answer must be one JSON object with integer scores; anything
else is recorded as a judge failure for that case (never a crash, never a guessed score).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drafter.errors import DrafterError
from drafter.llm.base import LLM, LLMRequest
from drafter.prompting import PromptRenderer

CRITERIA = ("empathy", "partnership", "calm_clarity", "accuracy_safety", "overall")
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL)


class JudgeScores(BaseModel):
    """The rubric: integers 1-5 (no floats, no strings), plus a short rationale."""

    model_config = ConfigDict(extra="forbid", strict=True)

    empathy: int = Field(ge=1, le=5)
    partnership: int = Field(ge=1, le=5)
    calm_clarity: int = Field(ge=1, le=5)
    accuracy_safety: int = Field(ge=1, le=5)
    overall: int = Field(ge=1, le=5)
    rationale: str = Field(default="", max_length=2_000)


class JudgeParseError(ValueError):
    """The judge's answer was not the JSON object the rubric asks for."""


def parse_scores(text: str) -> JudgeScores:
    """Strictly parse a judge answer: one JSON object (a single ```json fence is tolerated), rubric keys only."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise JudgeParseError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise JudgeParseError(f"expected a JSON object, got {type(value).__name__}")
    try:
        return JudgeScores.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "object"
        raise JudgeParseError(f"{where}: {first['msg']}") from None


@dataclass(frozen=True, slots=True)
class Judge:
    """Scores drafts with its own LLM (already wrapped in the completion cache by the runner)."""

    llm: LLM
    renderer: PromptRenderer
    model: str
    emergency_number: str = "911"
    crisis_line: str = "988"

    async def score(self, *, message: str, draft: str, urgency: str, language_name: str) -> dict[str, Any]:
        """{"scores": {...}} or {"error": "..."}; always names the judge model."""
        variables = {"message": message, "draft": draft, "urgency": urgency, "language_name": language_name,
                     "practice": {"emergency_number": self.emergency_number, "crisis_line": self.crisis_line}}
        request: LLMRequest = self.renderer.render(variables, mode="chat", max_tokens=300, temperature=0.0)
        try:
            result = await self.llm.complete(request)
        except DrafterError as exc:
            return {"model": self.model, "error": f"judge call failed: {exc.code}"}
        try:
            scores = parse_scores(result.text)
        except JudgeParseError as exc:
            return {"model": self.model, "error": f"judge answer rejected: {exc}"}
        return {"model": self.model, "scores": scores.model_dump(exclude={"rationale"}),
                "rationale": scores.rationale}
