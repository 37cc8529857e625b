"""Prompt template sets: load a folder of Jinja templates + manifest, render them safely into an LLMRequest."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from drafter.errors import TemplateError
from drafter.llm.base import ChatMessage, LLMRequest, PromptMode

# Tags and chat tokens that would let patient text pose as a boundary of the prompt.
_DELIMITER = re.compile(
    r"<\s*/?\s*(patient_message|chart_context|system|assistant|user)\s*>|<\|[^|>]{0,40}\|?>|<(start|end)_of_turn>|^###",
    re.IGNORECASE | re.MULTILINE,
)


def neutralise(text: str) -> str:
    """Defuse delimiter collisions in patient-supplied text so it cannot close or open a prompt block."""
    return _DELIMITER.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›").replace("#", "＃"), text)


def _neutralise_tree(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, Mapping):
        return {k: _neutralise_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_neutralise_tree(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """One named, versioned set of prompt templates."""

    name: str
    version: str
    sources: Mapping[str, str]  # file name -> template text
    chat: Mapping[str, str]  # role -> file name
    completion: Mapping[str, Any]  # {"prompt": file name, "stop": [...]}
    manifest: Mapping[str, Any]

    @classmethod
    def from_dir(cls, directory: Path) -> TemplateSet:
        """Load a set from a folder holding manifest.yaml and its templates."""
        manifest_path = directory / "manifest.yaml"
        try:
            manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TemplateError(f"No template set at {directory}: manifest.yaml is missing; "
                                "check DRAFTER_PROMPTS_DIR and DRAFTER_TEMPLATE_SET.") from None
        except yaml.YAMLError as exc:
            raise TemplateError(f"{manifest_path} is not valid YAML: {exc}") from None
        templates = manifest.get("templates") or {}
        sources = {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.j2"))}
        chat = dict(templates.get("chat") or {})
        completion = dict(templates.get("completion") or {})
        for file in [*chat.values(), completion.get("prompt")]:
            if file and file not in sources:
                raise TemplateError(f"{manifest_path} names {file}, which is not in {directory}.")
        return cls(str(manifest.get("name", directory.name)), str(manifest.get("version", "1")),
                   sources, chat, completion, manifest)

    @property
    def label(self) -> str:
        """name@version, as stored with each draft."""
        return f"{self.name}@{self.version}"


class PromptRenderer:
    """Renders a template set in an immutable sandbox with StrictUndefined: admins edit these files."""

    def __init__(self, template_set: TemplateSet) -> None:
        self.template_set = template_set
        self._env = ImmutableSandboxedEnvironment(
            loader=jinja2.DictLoader(dict(template_set.sources)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain text prompts; patient text is neutralised instead
            keep_trailing_newline=False,
        )

    def _render(self, file: str, variables: Mapping[str, Any]) -> str:
        try:
            return self._env.get_template(file).render(variables).strip()
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"Template {self.template_set.label}/{file} uses an undefined variable: {exc.message}",
                                details={"template": file}) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"Template {self.template_set.label}/{file} line {exc.lineno}: {exc.message}",
                                details={"template": file, "line": exc.lineno}) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"Template {self.template_set.label}/{file} failed to render: {exc}",
                                details={"template": file}) from None

    def render(self, variables: Mapping[str, Any], *, mode: PromptMode, max_tokens: int,
               temperature: float) -> LLMRequest:
        """The exact request that would be sent to the model for these variables."""
        safe = _neutralise_tree(variables)
        if mode == "chat":
            if not self.template_set.chat:
                raise TemplateError(f"Template set {self.template_set.label} has no chat templates.")
            messages = tuple(ChatMessage(role, self._render(file, safe))  # type: ignore[arg-type]
                             for role, file in self.template_set.chat.items())
            return LLMRequest(mode="chat", messages=messages, max_tokens=max_tokens, temperature=temperature)
        spec = self.template_set.completion
        if not spec.get("prompt"):
            raise TemplateError(f"Template set {self.template_set.label} has no completion template.")
        return LLMRequest(mode="completion", prompt=self._render(spec["prompt"], safe),
                          stop=tuple(spec.get("stop") or ()), max_tokens=max_tokens, temperature=temperature)
