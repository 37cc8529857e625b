"""Request-scoped access to the services built in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from drafter.services import Services


def get_services(request: Request) -> Services:
    """The process's services, built once in the app lifespan."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
