"""The template editor page for admins: a static HTML shell, its script and its style, served by the app.

Like the inbox, the shell holds no data: every template, sample and result comes from the template API with the
admin's bearer token (drafter.api.routes.templates), so these routes are public and the API calls are not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi.responses import HTMLResponse

from drafter.api.routes.inbox import HEADERS
from drafter.web import asset

router = APIRouter(tags=["editor"], include_in_schema=False)

ASSETS = {"editor.js": "text/javascript; charset=utf-8", "editor.css": "text/css; charset=utf-8",
          "common.js": "text/javascript; charset=utf-8", "common.css": "text/css; charset=utf-8"}


@router.get("/admin/templates", response_class=HTMLResponse)
async def editor_page() -> HTMLResponse:
    """The template editor page shell."""
    return HTMLResponse(asset("editor.html"), headers=HEADERS)


@router.get("/admin/templates/assets/{name}")
async def editor_asset(name: Annotated[str, Path(max_length=40)]) -> Response:
    """The page's scripts and stylesheets (a fixed list: no file system paths from the URL)."""
    if name not in ASSETS:
        raise HTTPException(404, f"No asset named {name}.")
    return Response(asset(name), media_type=ASSETS[name], headers=HEADERS)
