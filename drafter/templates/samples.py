"""Sample messages for validation and preview, turned into template variables by the pipeline's own code."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from drafter.classify import LANGUAGE_NAMES
from drafter.domain import DraftRequest
from drafter.errors import NotFoundError
from drafter.pipeline import Pipeline
from drafter.prompting import Manifest

SAMPLES_FILE = Path(__file__).with_name("samples.yaml")


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    title: str
    request: DraftRequest
    source: str = "written"


@cache
def samples() -> tuple[Sample, ...]:
    """The sample messages shipped with drafter (some real, from MeQSum; see samples.yaml)."""
    items = yaml.safe_load(SAMPLES_FILE.read_text(encoding="utf-8"))
    return tuple(Sample(item["id"], item["title"], DraftRequest.model_validate(item["body"]),
                        item.get("source", "written")) for item in items)


def sample(sample_id: str) -> Sample:
    """One sample by id; NotFoundError listing the ids."""
    for item in samples():
        if item.id == sample_id:
            return item
    raise NotFoundError(f"No sample {sample_id!r}; samples: {', '.join(s.id for s in samples())}.")


def variables_for(pipeline: Pipeline, request: DraftRequest) -> dict[str, Any]:
    """Template variables exactly as a draft of this request would get them (input guardrails included)."""
    findings, level = pipeline.assess_input(request)
    return pipeline.model_variables(request, findings, level, pipeline.redactor_for(request, findings))


@dataclass(frozen=True, slots=True)
class RenderContext:
    """One render to try: a name, the mode and the variables."""

    id: str
    mode: str
    variables: dict[str, Any]


def validation_contexts(pipeline: Pipeline, manifest: Manifest) -> list[RenderContext]:
    """Every sample in every mode the set defines, plus every category x language of the manifest."""
    modes = [m for m in ("chat", "completion") if manifest.templates.get(m)]  # type: ignore[call-overload]
    contexts = [RenderContext(s.id, mode, variables_for(pipeline, s.request)) for s in samples() for mode in modes]
    base = variables_for(pipeline, samples()[0].request)
    for category in manifest.categories:
        for language in manifest.languages:
            overrides = {"category": category, "language": language,
                         "language_name": LANGUAGE_NAMES.get(language, language)}
            contexts.extend(RenderContext(f"category:{category}/{language}", mode, base | overrides) for mode in modes)
    return contexts
