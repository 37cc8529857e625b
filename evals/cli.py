"""`drafter eval run|compare|list`: the typer sub-app registered by drafter.cli. Heavy imports stay inside commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from drafter.settings import Settings, load_settings

eval_app = typer.Typer(no_args_is_help=True,
                       help="Offline evals: run the pipeline on a labelled dataset, compare runs.")


async def load_run(ref: str, settings: Settings) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run by folder (run.json + results.jsonl) or by the id it was stored under in the database."""
    from drafter.storage.engine import create_engine
    from drafter.storage.migrate import upgrade
    from evals.runner import read_meta, read_results
    from evals.store import EvalStore

    folder = Path(ref)
    if await asyncio.to_thread(folder.is_dir):
        return read_meta(folder), list(read_results(folder / "results.jsonl").values())
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        return await EvalStore(engine).load(ref)
    finally:
        await engine.dispose()


@eval_app.command("run")
def run(
    dataset: Annotated[Path, typer.Option(help="Labelled cases (JSONL), e.g. evals/datasets/portal_v1.jsonl.")],
    out: Annotated[Path, typer.Option(help="Run folder: results, cache, reports. Run again to resume.")],
    template_set: Annotated[str | None, typer.Option(help="NAME or NAME@VERSION from the prompts folder.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name for the configured endpoint.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=512, help="Cases drafted at once.")] = 8,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first K cases.")] = None,
    judge: Annotated[bool | None, typer.Option("--judge/--no-judge",
                                               help="LLM-as-judge scores (default: DRAFTER_EVAL_JUDGE).")] = None,
    cache: Annotated[Path | None, typer.Option(help="Completion cache file to share between runs.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    store: Annotated[bool, typer.Option(help="Store the run in the database (eval_runs).")] = True,
    pipeline_db: Annotated[bool, typer.Option(help="Also keep the pipeline's rows in <out>/pipeline.db.")] = False,
) -> None:
    """Draft a reply to every case through the pipeline, score it, and write report.html, report.json, junit.xml."""
    from evals.runner import RunOptions, run_eval, summary_line

    settings = load_settings()
    options = RunOptions(dataset=dataset, out=out, template_set=template_set, model=model, concurrency=concurrency,
                         limit=limit, judge=judge, cache=cache, progress=progress, store=store,
                         pipeline_db=pipeline_db)
    outcome = asyncio.run(run_eval(settings, options))
    typer.echo(summary_line(outcome))
    judge_model = outcome.meta.get("judge_model")
    typer.echo(f"judge: {judge_model or 'off'}")
    for name in ("report.html", "report.json", "junit.xml"):
        typer.echo(f"wrote {out / name}")


@eval_app.command("compare")
def compare(
    run_a: Annotated[str, typer.Argument(help="Baseline run: a run folder or a stored run id.")],
    run_b: Annotated[str, typer.Argument(help="Candidate run: a run folder or a stored run id.")],
    thresholds: Annotated[Path | None, typer.Option(help="Regression rules (YAML): evals/thresholds.yaml.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for compare.html and compare.json.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Metric deltas, McNemar on paired pass/fail, bootstrap intervals, flipped cases; exit 1 on a regression."""
    from evals.compare import compare_runs, compare_text, load_thresholds
    from evals.html import compare_html

    settings = load_settings()
    rules = load_thresholds(thresholds) if thresholds else []

    async def both() -> tuple[tuple[dict[str, Any], list[dict[str, Any]]], tuple[dict[str, Any], list[dict[str, Any]]]]:
        return await load_run(run_a, settings), await load_run(run_b, settings)

    (a_meta, a_records), (b_meta, b_records) = asyncio.run(both())
    comparison = compare_runs(a_meta, a_records, b_meta, b_records, rules=rules)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(comparison, indent=2, ensure_ascii=False), encoding="utf-8")
        (out / "compare.html").write_text(compare_html(comparison), encoding="utf-8")
    typer.echo(json.dumps(comparison, indent=2, ensure_ascii=False) if as_json else compare_text(comparison))
    if comparison["verdict"] == "regressed":
        raise typer.Exit(code=1)


@eval_app.command("list")
def list_runs(limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 20) -> None:
    """Stored eval runs, newest first."""
    from drafter.storage.engine import create_engine
    from drafter.storage.migrate import upgrade
    from evals.store import EvalStore

    settings = load_settings()

    async def fetch() -> list[dict[str, Any]]:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await EvalStore(engine).recent(limit)
        finally:
            await engine.dispose()

    for r in asyncio.run(fetch()):
        rate = f"{r['pass_rate']:.1%}"
        typer.echo(f"{r['run_id']}  {r['created_at'][:19]}  {r['template_set']:<14} {r['model']:<24} "
                   f"{r['cases']:>5} cases  {rate:>6} pass  {r['status']}")
