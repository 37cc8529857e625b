"""The clinician inbox page: a static HTML shell, its script and its style, all served by the app.

The shell carries no patient data (everything comes from the API with the user's bearer token), so these routes
are public. The Content-Security-Policy keeps the page to its own origin and lets only the configured portal
origins frame it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi.responses import HTMLResponse

from drafter.api.deps import ServicesDep

router = APIRouter(tags=["inbox"], include_in_schema=False)

ASSETS = {"inbox.js": "text/javascript; charset=utf-8", "inbox.css": "text/css; charset=utf-8"}


@cache
def _asset(name: str) -> bytes:
    return resources.files("drafter.web").joinpath(name).read_bytes()


def content_security_policy(frame_ancestors: list[str]) -> str:
    """Our own origin only: no inline script, no third-party code; framing only from the configured origins."""
    ancestors = " ".join(["'self'", *frame_ancestors])
    return ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
            f"base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")


def _headers(services: ServicesDep) -> dict[str, str]:
    csp = content_security_policy(services.settings.frame_ancestor_list)
    return {"Content-Security-Policy": csp, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(services: ServicesDep) -> HTMLResponse:
    """The inbox page shell."""
    return HTMLResponse(_asset("inbox.html"), headers=_headers(services))


@router.get("/inbox/assets/{name}")
async def inbox_asset(name: Annotated[str, Path(max_length=40)], services: ServicesDep) -> Response:
    """The page's script and stylesheet (a fixed list: no file system paths from the URL)."""
    if name not in ASSETS:
        raise HTTPException(404, f"No asset named {name}.")
    return Response(_asset(name), media_type=ASSETS[name], headers=_headers(services))
