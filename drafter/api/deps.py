"""Request-scoped access to the services built in the lifespan.

The getters are `async def` although they never await: FastAPI runs a plain `def` dependency in its thread pool,
one hop to a thread per dependency per request (~0.1 ms each on the draft path; bench/overhead.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from drafter.jobs import DraftJobs
from drafter.progress import DraftProgress
from drafter.services import Services


async def get_services(request: Request) -> Services:
    """The process's services, built once in the app lifespan."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_jobs(request: Request) -> DraftJobs:
    """The pre-generation queue started in the app lifespan."""
    jobs: DraftJobs = request.app.state.jobs
    return jobs


async def get_progress(request: Request) -> DraftProgress:
    """Text of drafts being written in this process."""
    progress: DraftProgress = request.app.state.progress
    return progress


JobsDep = Annotated[DraftJobs, Depends(get_jobs)]
ProgressDep = Annotated[DraftProgress, Depends(get_progress)]
