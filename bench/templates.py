"""Cost of template administration on the drafting path, measured side by side in one run.

    .venv/bin/python -m bench.templates [--rounds 300]

1. Rendering the default set's chat prompt in the hardened sandbox (every loop, concatenation, call, filter and
   output guarded) against Jinja's plain immutable sandbox with the same loader and options.
2. Choosing the template set per draft: TemplateResolver.resolve() (one label read on SQLite + the cached set)
   against building the set from its files every time.
3. Validating the default set: the static checks, and every sample context rendered in the limited child process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from drafter.domain import DraftRequest
from drafter.pipeline import Pipeline, PipelineConfig
from drafter.prompting import PromptRenderer, TemplateSet, _environment
from drafter.settings import PROJECT_ROOT
from drafter.storage.engine import create_engine
from drafter.storage.migrate import upgrade
from drafter.storage.repository import DraftStore
from drafter.templates.isolation import render_isolated
from drafter.templates.resolver import TemplateResolver
from drafter.templates.samples import validation_contexts
from drafter.templates.store import TemplateStore, files_of_dir
from drafter.templates.validation import static_issues
from guardrails import load_policy

DEFAULT = PROJECT_ROOT / "prompts" / "default"


def _median_us(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


def render_cost(rounds: int) -> None:
    files = files_of_dir(DEFAULT)
    template_set = TemplateSet.from_files(files)
    pipeline = Pipeline(llm=None, store=None, renderer=PromptRenderer(template_set),  # type: ignore[arg-type]
                        policy=load_policy(), config=PipelineConfig())
    request = DraftRequest.model_validate({"message": {"text": "I've had a headache for three days."}})
    findings, level = pipeline.assess_input(request)
    variables = pipeline.prompt_variables(request, findings, level) | {"exemplars": []}
    sources = template_set.sources

    def load(name: str) -> tuple[str, str, Callable[[], bool]] | None:
        return (sources[name], name, lambda: True) if name in sources else None

    plain = ImmutableSandboxedEnvironment(loader=jinja2.FunctionLoader(load), undefined=jinja2.StrictUndefined,
                                          autoescape=False, trim_blocks=True, lstrip_blocks=True)
    hardened = _environment(sources)
    a = [plain.get_template(f) for f in ("system.j2", "user.j2")]
    b = [hardened.get_template(f) for f in ("system.j2", "user.j2")]
    assert [t.render(variables) for t in a] == [t.render(variables) for t in b]  # same text, only guards differ
    plain_us, hardened_us = [], []
    for _ in range(5):  # interleaved, so machine noise hits both alike
        plain_us.append(_median_us(lambda: [t.render(variables) for t in a], rounds // 5))
        hardened_us.append(_median_us(lambda: [t.render(variables) for t in b], rounds // 5))
    p, h = statistics.median(plain_us), statistics.median(hardened_us)
    print(f"render system+user (chat): plain immutable sandbox {p:.0f} us, hardened {h:.0f} us ({h / p:.2f}x)")


async def resolve_cost(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/bench.db")
        try:
            await upgrade(engine)
            store = TemplateStore(DraftStore(engine))
            await store.seed("default", files_of_dir(DEFAULT), origin="bench")
            resolver = TemplateResolver(store, default_set="default")
            await resolver.resolve(None)  # warm the cache once, as the first draft after a start does
            cached = []
            for _ in range(rounds):
                started = time.perf_counter()
                await resolver.resolve(None)
                cached.append((time.perf_counter() - started) * 1e6)
            files = files_of_dir(DEFAULT)
            rebuilt = _median_us(lambda: PromptRenderer(TemplateSet.from_files(files)), max(20, rounds // 10))
            print(f"choose the set per draft: resolver (label read + cache) {statistics.median(cached):.0f} us, "
                  f"rebuilding from files {rebuilt:.0f} us ({rebuilt / statistics.median(cached):.0f}x)")
        finally:
            await engine.dispose()


async def validation_cost() -> None:
    files = files_of_dir(DEFAULT)
    started = time.perf_counter()
    issues = static_issues(files)
    static_ms = (time.perf_counter() - started) * 1000
    template_set = TemplateSet.from_files(files)
    pipeline = Pipeline(llm=None, store=None, renderer=PromptRenderer(template_set),  # type: ignore[arg-type]
                        policy=load_policy(), config=PipelineConfig())
    contexts = validation_contexts(pipeline, template_set.manifest)
    started = time.perf_counter()
    results = await render_isolated(files, contexts, label="default@bench")
    isolated_s = time.perf_counter() - started
    print(f"validate default set: static checks {static_ms:.0f} ms ({len(issues)} issues); "
          f"{sum(r.ok for r in results)}/{len(results)} sample renders in the child process {isolated_s:.2f} s "
          f"(slowest render {max(r.ms for r in results):.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    render_cost(rounds)
    asyncio.run(resolve_cost(rounds))
    asyncio.run(validation_cost())


if __name__ == "__main__":
    main()
