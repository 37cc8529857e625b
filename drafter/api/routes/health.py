"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from drafter.api.auth import Principal, Role, require
from drafter.api.deps import ServicesDep
from drafter.api.schemas import ErrorBody, Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}, 401: {"model": ErrorBody},
                                                        403: {"model": ErrorBody}, 429: {"model": ErrorBody}})
async def readyz(services: ServicesDep,
                 _: Annotated[Principal, Depends(require(Role.CLINICIAN, Role.QA, Role.ADMIN))]) -> JSONResponse:
    """Ready when the database and the LLM backend both answer."""
    checks = await services.readiness()
    ready = all(v == "ok" for v in checks.values())
    body = Health(status="ready" if ready else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503,
                        headers=None if ready else {"Retry-After": "5"})
