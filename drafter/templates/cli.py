"""`drafter templates ...`: list, show, validate, diff, create, publish, rollback and outcomes from a shell.

The CLI acts with database access (an operator on the host), so its actor is `cli:<login name>`. Commands that
need no model run with an offline backend: listing versions never starts the embedded model.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from drafter.errors import ConfigError, InputError, LLMUnavailableError, TemplateInvalidError
from drafter.llm.base import LLMRequest, LLMResult, PromptMode, StreamEvent
from drafter.settings import Settings, load_settings
from drafter.templates.refs import TemplateRef

if TYPE_CHECKING:  # the storage and pipeline imports cost seconds; `drafter --help` must not pay for them
    from drafter.templates.admin import TemplateAdmin
    from drafter.templates.validation import ValidationReport

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, help="Template sets: versions, validation, diff, publish, rollback.")


class OfflineLLM:
    """Stands in for the model in commands that never call it (a call says so instead of starting one)."""

    name = "offline"
    prompt_mode: PromptMode = "chat"

    async def complete(self, request: LLMRequest) -> LLMResult:
        raise LLMUnavailableError("This command runs without a language model.")

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        raise LLMUnavailableError("This command runs without a language model.")
        yield  # pragma: no cover

    async def ping(self) -> None:
        raise LLMUnavailableError("This command runs without a language model.")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@asynccontextmanager
async def _admin(settings: Settings, *, with_model: bool = False) -> AsyncIterator[TemplateAdmin]:
    from drafter.services import open_services

    async with open_services(settings, llm=None if with_model else OfflineLLM()) as services:
        if services.templates is None:  # pragma: no cover - open_services always builds it
            raise ConfigError("Template administration is not available.")
        yield services.templates


def _files_of_dir(folder: Path) -> dict[str, str]:
    from drafter.templates.store import files_of_dir

    return files_of_dir(folder)


def _run(settings: Settings, work: Callable[[TemplateAdmin], Awaitable[T]], *, with_model: bool = False) -> T:
    async def main() -> T:
        async with _admin(settings, with_model=with_model) as admin:
            return await work(admin)

    return asyncio.run(main())


def _ref(text: str, settings: Settings) -> TemplateRef:
    return TemplateRef.parse(text, default_set=settings.template_set)


def _print_report(report: ValidationReport) -> None:
    for issue in report.issues:
        typer.echo(f"{issue.where()}: {issue.severity}: {issue.message}")
    failed = [r for r in report.renders if not r.ok]
    for render in failed:
        if render.issue is not None:
            typer.echo(f"{render.issue.where()}: error: {render.issue.message}")
    if report.renders:
        slowest = max(r.ms for r in report.renders)
        typer.echo(f"rendered {len(report.renders) - len(failed)}/{len(report.renders)} sample contexts "
                   f"(slowest {slowest:.1f} ms)")
    typer.echo("valid" if report.ok else f"INVALID: {len(report.errors)} problem(s)")


@app.command("list")
def list_(set_name: Annotated[str | None, typer.Argument(help="A set: list its versions.")] = None) -> None:
    """List template sets, or the versions of one set with status, labels, validation and gate."""
    settings = load_settings()
    if set_name is None:
        for s in _run(settings, lambda admin: admin.sets()):
            labels = ", ".join(f"{k}@{v}" for k, v in sorted(s.labels.items()))
            typer.echo(f"{s.name}\t{s.versions} version(s), latest {s.latest}\t{labels}")
        return

    async def work(admin: TemplateAdmin) -> tuple[Any, Any]:
        return await admin.versions(set_name)

    rows, labels = _run(settings, work)
    by_version: dict[int, list[str]] = {}
    for label in labels:
        by_version.setdefault(label.version, []).append(label.label)
    for row in rows:
        checks = (f"valid={'yes' if row.validation and row.validation.get('ok') else 'no' if row.validation else '?'} "
                  f"gate={(row.gate or {}).get('status', '-')}")
        tags = f" [{', '.join(by_version[row.version])}]" if row.version in by_version else ""
        typer.echo(f"{row.set_name}@{row.version}\t{row.status}{tags}\t{checks}\t{row.author}\t"
                   f"{row.created_at:%Y-%m-%d %H:%M}\t{row.message}")


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="name@VERSION or name@LABEL (default: production).")],
    file: Annotated[str | None, typer.Option("--file", "-f", help="Print this file's text.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Everything as JSON (files included).")] = False,
) -> None:
    """Show one version: status, author, message, files, last validation and gate result."""
    settings = load_settings()
    row = _run(settings, lambda admin: admin.store.resolve(_ref(ref, settings)))
    if file is not None:
        if file not in row.files:
            raise InputError(f"{row.set_name}@{row.version} has no file {file}; it has: {', '.join(sorted(row.files))}")
        typer.echo(row.files[file], nl=False)
        return
    if as_json:
        typer.echo(json.dumps({"set": row.set_name, "version": row.version, "status": row.status,
                               "author": row.author, "message": row.message, "based_on": row.based_on,
                               "created_at": row.created_at.isoformat(), "files": row.files,
                               "validation": row.validation, "gate": row.gate}, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{row.set_name}@{row.version} · {row.status} · by {row.author} at {row.created_at:%Y-%m-%d %H:%M} · "
               f"based on {row.based_on or '-'}")
    typer.echo(f"message: {row.message}")
    typer.echo(f"files ({len(row.files)}): {', '.join(sorted(row.files))}")
    if row.validation is not None:
        typer.echo(f"validation: {'valid' if row.validation.get('ok') else 'INVALID'}")
    if row.gate is not None:
        typer.echo(f"gate: {row.gate.get('status')} — {row.gate.get('summary')}")


@app.command()
def validate(target: Annotated[str, typer.Argument(help="A folder with manifest.yaml, or name@VERSION|LABEL.")],
             ) -> None:
    """Validate a folder or a stored version: every issue as file:line:column, then the sample renders."""
    settings = load_settings()
    folder = Path(target)
    files = _files_of_dir(folder) if folder.is_dir() else None

    async def work(admin: TemplateAdmin) -> ValidationReport:
        if files is not None:
            return await admin.validate(files, label=f"{folder.name}@folder")
        row = await admin.store.resolve(_ref(target, settings))
        return await admin.validate_version(row.set_name, row.version)

    report = _run(settings, work)
    _print_report(report)
    if not report.ok:
        raise TemplateInvalidError(f"{target} does not validate ({len(report.errors)} problem(s)).")


@app.command()
def diff(
    set_name: Annotated[str, typer.Argument(help="The template set.")],
    old: Annotated[int, typer.Argument(help="The older version.", min=1)],
    new: Annotated[int, typer.Argument(help="The newer version.", min=1)],
) -> None:
    """Unified diff per file between two versions."""
    settings = load_settings()
    result = _run(settings, lambda admin: admin.diff(set_name, old, new))
    for name in result["added"]:
        typer.echo(f"added:   {name}")
    for name in result["removed"]:
        typer.echo(f"removed: {name}")
    for text in result["files"].values():
        typer.echo(text, nl=False)
    if not result["files"]:
        typer.echo(f"{set_name}@{old} and {set_name}@{new} have identical files.")


@app.command()
def create(
    set_name: Annotated[str, typer.Argument(help="The template set.")],
    folder: Annotated[Path, typer.Argument(help="Folder with the whole set (manifest.yaml, *.j2, exemplars).",
                                           exists=True, file_okay=False)],
    message: Annotated[str, typer.Option("--message", "-m", help="What changed and why.")],
    based_on: Annotated[int | None, typer.Option(help="The version these files started from.", min=1)] = None,
) -> None:
    """Store a folder as a new draft version (validated first; nothing goes live until publish)."""
    settings = load_settings()

    async def work(admin: TemplateAdmin) -> Any:
        row, _ = await admin.create(set_name, _files_of_dir(folder), author=_actor(), message=message,
                                    based_on=based_on)
        return row

    row = _run(settings, work)
    typer.echo(f"created {row.set_name}@{row.version} (draft); publish with: drafter templates publish "
               f"{row.set_name} {row.version}")


@app.command()
def publish(
    set_name: Annotated[str, typer.Argument(help="The template set.")],
    version: Annotated[int, typer.Argument(help="The version to put in production.", min=1)],
    override_reason: Annotated[str | None, typer.Option(help="Publish despite a failed or unavailable gate; say "
                                                             "why (audited).")] = None,
) -> None:
    """Validate, run the eval gate against production, and point production at the version."""
    settings = load_settings()
    row, gate = _run(settings, lambda admin: admin.publish(set_name, version, actor=_actor(),
                                                           override_reason=override_reason), with_model=True)
    typer.echo(f"gate: {gate.status} — {gate.summary}")
    typer.echo(f"{row.set_name}@{row.version} is in production" + (" (gate overridden)" if not gate.passed else ""))


@app.command()
def rollback(
    set_name: Annotated[str, typer.Argument(help="The template set.")],
    reason: Annotated[str, typer.Option(help="Why (audited).")],
    to: Annotated[int | None, typer.Option(help="A version that was live before (default: the one before).",
                                           min=1)] = None,
) -> None:
    """Move production back to the previous version (or --to N)."""
    settings = load_settings()
    target = _run(settings, lambda admin: admin.rollback(set_name, actor=_actor(), reason=reason, to_version=to))
    typer.echo(f"{set_name}@{target} is in production again")


@app.command()
def outcomes(
    set_name: Annotated[str, typer.Argument(help="The template set.")],
    version: Annotated[int, typer.Argument(help="The version.", min=1)],
) -> None:
    """How clinicians treated this version's drafts (JSON)."""
    settings = load_settings()
    typer.echo(json.dumps(asdict(_run(settings, lambda admin: admin.outcomes(set_name, version))), indent=2,
                          ensure_ascii=False))
