"""An app factory for ASGI servers run by hand, e.g. several uvicorn workers in one process group:

    uvicorn drafter.api.asgi:app_from_env --factory --workers 4 --host 0.0.0.0 --port 8000

Each worker reads the settings (DRAFTER_* from the environment or .env) and builds its own app, services and
metrics in its lifespan; the database migration at start is serialised between workers on PostgreSQL.
"""

from __future__ import annotations

from fastapi import FastAPI

from drafter.api.app import create_app
from drafter.settings import load_settings


def app_from_env() -> FastAPI:
    """The app for the settings in the environment; invalid settings stop the worker with a ConfigError."""
    return create_app(load_settings())
