"""The `drafter` command. Errors become a one-line message and a stable exit code (see drafter.errors)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer

from drafter.errors import AuditChainError, DrafterError, InputError
from drafter.settings import Settings, load_settings
from drafter.storage.engine import display_url
from drafter.templates import cli as templates_cli
from evals.cli import eval_app

T = TypeVar("T")

app = typer.Typer(name="drafter", no_args_is_help=True, add_completion=False,
                  help="Draft empathetic, safe replies to patient messages for clinician approval.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
prompts_app = typer.Typer(no_args_is_help=True, help="Prompt templates.")
app.add_typer(prompts_app, name="prompts")
app.add_typer(templates_cli.app, name="templates")
app.add_typer(eval_app, name="eval")


def _settings() -> Settings:
    return load_settings()


def _run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(coro_fn())


def _configure_logging(settings: Settings) -> None:
    from drafter.logs import configure_logging

    configure_logging(settings.log_level)  # JSON lines without message arguments: no PHI (see drafter.logs)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Run the HTTP API (docs at /docs). Migrates the database and starts the model backend first."""
    import uvicorn

    from drafter.api.app import create_app
    from drafter.llm.openai_backend import check_environment_proxies

    settings = _settings()
    check_environment_proxies()  # here, not in the lifespan, where uvicorn would turn it into a traceback
    _configure_logging(settings)
    backend = settings.llm_base_url or "the embedded demo model (Gemma 3 270M via llama.cpp; not for clinical use)"
    typer.echo(f"drafter: database {display_url(settings.database_url)}; LLM backend {backend}", err=True)
    _hint_first_user()
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower(),
                # our RequestContext logs each request; log_config=None keeps uvicorn on our JSON formatter
                access_log=False, log_config=None,
                # Idle keep-alive connections stay open longer than clients and proxies keep them (httpx 5 s, typical
                # load balancers 60 s); with uvicorn's 5 s the two sides race and a request sent on a connection the
                # server is closing fails (seen as ReadErrors in bench/load.py).
                timeout_keep_alive=settings.http_keep_alive_s)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(min=1, max=1000, help="Drafts this process writes at once "
                                                    "(default DRAFTER_QUEUE_CONCURRENCY).")] = None,
) -> None:
    """Write the drafts queued on DRAFTER_QUEUE_URL (Redis) until SIGTERM or SIGINT; run as many as the load needs."""
    from drafter.errors import ConfigError
    from drafter.llm.openai_backend import check_environment_proxies
    from drafter.queue import QueueWorker, describe, run_worker

    settings = _settings()
    check_environment_proxies()
    if not settings.queue_url:
        raise ConfigError("drafter worker needs a job queue: set DRAFTER_QUEUE_URL (e.g. redis://127.0.0.1:6379/0) "
                          "for it and for `drafter serve`. Without one, `drafter serve` drafts in-process.")
    _configure_logging(settings)
    backend = settings.llm_base_url or "the embedded demo model (Gemma 3 270M via llama.cpp; not for clinical use)"
    typer.echo(f"drafter worker: database {display_url(settings.database_url)}; queue {describe(settings)}; "
               f"LLM backend {backend}", err=True)

    def ready(running: QueueWorker, metrics_url: str | None) -> None:
        where = f"; metrics at {metrics_url}" if metrics_url else " (DRAFTER_WORKER_METRICS_PORT=0: no metrics)"
        typer.echo(f"drafter worker: ready, writing up to {running.saq.concurrency} drafts at once{where}", err=True)

    _run(lambda: run_worker(settings, concurrency=concurrency, on_ready=ready))


def _hint_first_user() -> None:
    """On a database with no users, say how to create the first token (we never print secrets from the server)."""
    from drafter.storage.accounts import AccountStore

    async def count(store: Any) -> int:
        return await AccountStore(store).count_active_users()

    if _with_store(count) == 0:
        typer.echo("drafter: no API users yet, so every endpoint but /healthz will answer 401. Create the first "
                   "admin token in another shell:\n  ./scripts/run users create --name admin --role admin", err=True)


def _read_text(text: str) -> str:
    if text == "-":
        raw = sys.stdin.buffer.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"Standard input is not UTF-8 (bad byte at position {exc.start}); "
                             "convert it with iconv -t UTF-8.") from None
    return text


def _print_draft(out: Any) -> None:
    typer.echo(f"Draft {out.id} · {out.status.value} · urgency {out.urgency} · model {out.model} · "
               f"{out.usage.total_tokens} tokens")
    typer.echo("")
    typer.echo(out.text or "")
    typer.echo("")
    if out.findings:
        typer.echo("Findings:")
        for f in out.findings:
            where = f" @{f.target}[{f.span[0]}:{f.span[1]}]" if f.span else ""
            typer.echo(f"  [{f.severity}] {f.check}/{f.code}{where}: {f.message}")
    steps = ", ".join(f"{k.removesuffix('_ms')} {v:.1f}" for k, v in out.timings.items()
                      if k not in ("total_ms", "overhead_ms", "llm_ms"))
    typer.echo(f"Timings (ms): llm {out.timings.get('llm_ms', 0):.0f} · service overhead "
               f"{out.timings.get('overhead_ms', 0):.1f} ({steps})")


@app.command()
def draft(
    text: Annotated[str, typer.Argument(help="The patient's message, or - to read it from standard input.")],
    subject: Annotated[str | None, typer.Option(help="The message subject.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored draft as JSON.")] = False,
) -> None:
    """Draft a reply through the same pipeline as the API, store it, and print it with its findings."""
    from pydantic import ValidationError

    from drafter.api.schemas import DraftOut
    from drafter.domain import DraftRequest
    from drafter.services import open_services

    settings = _settings()
    try:
        request = DraftRequest.model_validate({"message": {"text": _read_text(text), "subject": subject}})
    except ValidationError as exc:
        raise InputError(f"Invalid message: {exc.errors()[0]['msg']}") from None

    async def run() -> DraftOut:
        async with open_services(settings) as services:
            return DraftOut.from_row(await services.pipeline.draft(request, source="cli", actor="cli"))

    out = _run(run)
    if as_json:
        typer.echo(out.model_dump_json(indent=2))
    else:
        _print_draft(out)


@app.command()
def doctor() -> None:
    """Show the configured backend, whether it answers, the model, and the time of a tiny completion."""
    from drafter.llm.base import ChatMessage, LLMRequest
    from drafter.llm.factory import open_backend

    settings = _settings()
    typer.echo(f"database:   {display_url(settings.database_url)}")
    typer.echo(f"backend:    {settings.llm_base_url or 'embedded local model (llama.cpp server, Gemma 3 270M)'}")

    async def run() -> None:
        started = time.perf_counter()
        async with open_backend(settings) as backend:
            if backend.local:
                typer.echo(f"local:      {backend.local.base_url} (loaded in {backend.local.load_seconds:.1f} s)")
            else:
                typer.echo(f"startup:    {time.perf_counter() - started:.2f} s")
            await backend.llm.ping()
            typer.echo("reachable:  yes")
            request = LLMRequest(mode=backend.llm.prompt_mode, max_tokens=8, temperature=0.0,
                                 messages=(ChatMessage("user", "Say OK."),), prompt="Reply with OK.\nReply:")
            t0 = time.perf_counter()
            result = await backend.llm.complete(request)
            elapsed = time.perf_counter() - t0
            typer.echo(f"model:      {result.model} ({backend.llm.prompt_mode} prompts)")
            typer.echo(f"completion: {elapsed * 1000:.0f} ms for {result.usage.completion_tokens} tokens "
                       f"({result.usage.prompt_tokens} prompt tokens)")

    _run(run)


@prompts_app.command("render")
def prompts_render(
    message: Annotated[str, typer.Option("--message", "-m", help="The patient's message ('-' reads stdin).")],
    category: Annotated[str | None, typer.Option(help="Force a category instead of the categoriser's.")] = None,
    language: Annotated[str | None, typer.Option(help="Declared language, e.g. es.")] = None,
    mode: Annotated[str, typer.Option(help="chat or completion (the embedded model uses completion).")] = "chat",
    as_json: Annotated[bool, typer.Option("--json", help="Print the request as JSON.")] = False,
) -> None:
    """Print exactly what would be sent to the model for a message (no model call, nothing stored)."""
    from dataclasses import asdict

    from pydantic import ValidationError

    from drafter.classify import Category
    from drafter.domain import DraftRequest
    from drafter.pipeline import Pipeline
    from drafter.prompting import PromptRenderer, TemplateSet
    from drafter.services import pipeline_config
    from guardrails import load_policy

    if mode not in ("chat", "completion"):
        raise InputError(f"--mode must be chat or completion, not {mode!r}.")
    if category is not None and category not in {c.value for c in Category}:
        raise InputError(f"--category must be one of {', '.join(c.value for c in Category)}.")
    settings = _settings()
    try:
        request = DraftRequest.model_validate({"message": {"text": _read_text(message), "language": language}})
    except ValidationError as exc:
        raise InputError(f"Invalid message: {exc.errors()[0]['msg']}") from None
    renderer = PromptRenderer(TemplateSet.from_dir(settings.prompts_dir / settings.template_set))
    pipeline = Pipeline(llm=None, store=None, renderer=renderer, policy=load_policy(),  # type: ignore[arg-type]
                        config=pipeline_config(settings, demo_model=False))
    pipeline.validate(request)
    findings, level = pipeline.assess_input(request)
    variables = pipeline.prompt_variables(request, findings, level) | ({"category": category} if category else {})
    llm_request = renderer.render(variables, mode=mode,  # type: ignore[arg-type]
                                  max_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature)
    if as_json:
        typer.echo(json.dumps(asdict(llm_request), indent=2, ensure_ascii=False))
        return
    typer.echo(f"# template set {renderer.template_set.label} · mode {mode} · category {variables['category']} · "
               f"language {variables['language']} · urgency {level.value}")
    if llm_request.mode == "chat":
        for m in llm_request.messages:
            typer.echo(f"\n----- {m.role} -----\n{m.content}")
    else:
        typer.echo(f"\n----- prompt (stop: {list(llm_request.stop)}) -----\n{llm_request.prompt}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply schema migrations (SQLite or PostgreSQL, from DRAFTER_DATABASE_URL)."""
    from drafter.storage.engine import create_engine
    from drafter.storage.migrate import current_revision, upgrade

    settings = _settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine, revision)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database {settings.database_url} is at revision {_run(run)}")


# --- users and audit (issue 7) -----------------------------------------------------------------------------------
users_app = typer.Typer(no_args_is_help=True, help="API users and their bearer tokens.")
app.add_typer(users_app, name="users")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit trail.")
app.add_typer(audit_app, name="audit")
CLI_ACTOR = "cli"


def _with_store(fn: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    """Run `fn(store)` on a migrated database, without starting any model backend."""
    from drafter.storage.engine import create_engine
    from drafter.storage.migrate import upgrade
    from drafter.storage.repository import DraftStore

    settings = _settings()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await fn(DraftStore(engine))
        finally:
            await engine.dispose()

    return _run(run)


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Option(help="Unique user name, e.g. dr.lee; recorded as reviewer and in the audit.")],
    role: Annotated[str, typer.Option(help="clinician (draft, inbox, review), qa (evals, read) or admin (all).")],
) -> None:
    """Create a user and print their API token (shown once: only its hash is stored). The token is the last word."""
    from drafter.identity import Role
    from drafter.storage.accounts import AccountStore

    if role not in {r.value for r in Role}:
        raise InputError(f"--role must be one of {', '.join(r.value for r in Role)}, not {role!r}.")

    async def run(store: Any) -> tuple[Any, str]:
        return await AccountStore(store).create_user(name, Role(role), actor=CLI_ACTOR)

    user, token = _with_store(run)
    typer.echo(f"Created {user.role} {user.name} (token id {user.active_tokens[0]}). This token is shown once; "
               f"send it as 'Authorization: Bearer <token>':")
    typer.echo(token)


@users_app.command("token")
def users_token(name: Annotated[str, typer.Option(help="An existing user.")]) -> None:
    """Give an existing user another API token (e.g. to rotate); printed once, as the last word."""
    from drafter.storage.accounts import AccountStore, token_id_of

    async def run(store: Any) -> str:
        return await AccountStore(store).issue_token(name, actor=CLI_ACTOR)

    token = _with_store(run)
    typer.echo(f"New token for {name} (token id {token_id_of(token)}), shown once:")
    typer.echo(token)


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Users, roles and the ids of their active tokens (never a secret)."""
    from drafter.storage.accounts import AccountStore

    async def run(store: Any) -> list[Any]:
        return await AccountStore(store).list_users()

    users = _with_store(run)
    if as_json:
        rows = [{"id": u.id, "name": u.name, "role": u.role.value, "created_at": u.created_at.isoformat(),
                 "revoked": u.disabled, "active_tokens": list(u.active_tokens)} for u in users]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not users:
        typer.echo("No users yet. Create one: drafter users create --name NAME --role admin")
    for u in users:
        state = "revoked" if u.disabled else f"{len(u.active_tokens)} active token(s): {', '.join(u.active_tokens)}"
        typer.echo(f"{u.name:<24} {u.role.value:<10} created {u.created_at:%Y-%m-%d %H:%M} · {state}")


@users_app.command("revoke")
def users_revoke(
    name: Annotated[str | None, typer.Argument(help="Revoke this user and all their tokens.")] = None,
    token_id: Annotated[str | None, typer.Option(help="Revoke only this token (its id from `users list`).")] = None,
) -> None:
    """Revoke a user (all their tokens) or one token; takes effect on the next request."""
    from drafter.storage.accounts import AccountStore

    if (name is None) == (token_id is None):
        raise InputError("Give either a user NAME or --token-id ID.")

    async def run(store: Any) -> str:
        accounts = AccountStore(store)
        if token_id is not None:
            await accounts.revoke_token(token_id, actor=CLI_ACTOR)
            return f"Revoked token {token_id}."
        assert name is not None
        revoked = await accounts.revoke_user(name, actor=CLI_ACTOR)
        return f"Revoked user {name} and {len(revoked)} token(s)."

    typer.echo(_with_store(run))


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[str | None, typer.Option(help="SEQ:HASH of an event recorded earlier (e.g. from a previous "
                                                    "verify): also proves no event up to it was cut off the end.")]
    = None,
) -> None:
    """Recompute the audit chain; exit non-zero and name the first bad event if any was edited, deleted or moved."""
    from drafter.storage.audit import verify_chain

    async def run(store: Any) -> Any:
        return verify_chain(await store.audit_events(), anchor=anchor)

    report = _with_store(run)
    if not report.ok:
        raise AuditChainError(report.summary)
    typer.echo(report.summary)


def main() -> None:
    """Console entry point: usage errors exit 2 (typer), DrafterError exits with its own code."""
    try:
        app()
    except DrafterError as exc:
        typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
