"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from drafter import __version__
from drafter.api.auth import Authenticator, enforce_route_policy
from drafter.api.errors import install_error_handlers
from drafter.api.limits import BodySizeLimit
from drafter.api.metrics import RequestMetrics
from drafter.api.metrics import router as metrics_router
from drafter.api.middleware import RequestContext, SecurityHeaders
from drafter.api.oidc import OIDCVerifier
from drafter.api.ratelimit import RateLimits
from drafter.api.routes import drafts, editor, feedback, fhir, health, inbox, me, messages, templates
from drafter.api.strict import reject_unknown_query_params
from drafter.heap import freeze_startup_heap
from drafter.jobs import InProcessDraftJobs
from drafter.llm.base import LLM
from drafter.metrics import Metrics
from drafter.progress import DraftProgress
from drafter.queue import RedisDraftJobs, open_queue
from drafter.services import open_services
from drafter.settings import Settings


def create_app(settings: Settings, *, llm: LLM | None = None) -> FastAPI:
    """Build the app; services (database, LLM backend) start in the lifespan, not at import."""
    metrics = Metrics()  # this app's own registry (drafter.metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, llm=llm, recover=True, observer=metrics) as services:
            app.state.services = services
            app.state.authenticator = Authenticator(
                services.store, RateLimits(settings), OIDCVerifier(settings) if settings.oidc_enabled else None)
            app.state.progress = DraftProgress()
            jobs: InProcessDraftJobs | RedisDraftJobs
            if settings.queue_url:  # `drafter worker` processes draft; this one only enqueues
                jobs = RedisDraftJobs(open_queue(settings), job_timeout_s=settings.pregenerate_stale_after_s)
            else:
                jobs = InProcessDraftJobs(
                    pipeline=services.pipeline, store=services.store, progress=app.state.progress,
                    workers=settings.pregenerate_workers, queue_size=settings.pregenerate_queue_size,
                    sweep_every_s=settings.pregenerate_sweep_s, stale_after_s=settings.pregenerate_stale_after_s)
            app.state.jobs = jobs
            freeze_startup_heap()
            async with jobs.running():
                yield

    app = FastAPI(
        title="drafter",
        version=__version__,
        summary="Drafts empathetic, safe replies to patient portal messages for clinician approval.",
        description="Every draft is checked by guardrails and waits for a clinician's decision; nothing is sent "
                    "to a patient automatically.",
        lifespan=lifespan,
        # fail closed: a route missing from ROUTE_POLICY is refused; then unknown query parameters are refused
        dependencies=[Depends(enforce_route_policy), Depends(reject_unknown_query_params)],
    )
    app.state.metrics = metrics
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestor_list)
    app.add_middleware(RequestMetrics, metrics=metrics)  # times the whole request, 413s and auth refusals included
    app.add_middleware(RequestContext)  # outermost of ours: every answer, 413s included, carries the request id
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(drafts.router)
    app.include_router(me.router)
    app.include_router(metrics_router)
    app.include_router(messages.router)
    app.include_router(feedback.router)
    app.include_router(fhir.router)
    app.include_router(inbox.router)
    app.include_router(editor.router)
    app.include_router(templates.router)
    app.include_router(templates.samples_router)
    return app
