"""The clinician inbox page: a static HTML shell, its script and its style, all served by the app.

The shell carries no patient data (everything comes from the API with the user's bearer token), so these routes
are public.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi.responses import HTMLResponse

from drafter.web import asset

router = APIRouter(tags=["inbox"], include_in_schema=False)

# common.* are shared with the template editor (drafter.api.routes.editor): sign-in, the API call, DOM helpers.
ASSETS = {"inbox.js": "text/javascript; charset=utf-8", "inbox.css": "text/css; charset=utf-8",
          "common.js": "text/javascript; charset=utf-8", "common.css": "text/css; charset=utf-8"}

# The security-headers middleware (drafter.api.middleware) gives these answers their CSP: scripts, styles and
# fetches from our own origin only, and frame-ancestors from DRAFTER_FRAME_ANCESTORS (the portal origins).
HEADERS = {"Cache-Control": "no-cache"}  # the shell holds no PHI: revalidate rather than never store


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page() -> HTMLResponse:
    """The inbox page shell."""
    return HTMLResponse(asset("inbox.html"), headers=HEADERS)


@router.get("/inbox/assets/{name}")
async def inbox_asset(name: Annotated[str, Path(max_length=40)]) -> Response:
    """The page's script and stylesheet (a fixed list: no file system paths from the URL)."""
    if name not in ASSETS:
        raise HTTPException(404, f"No asset named {name}.")
    return Response(asset(name), media_type=ASSETS[name], headers=HEADERS)
