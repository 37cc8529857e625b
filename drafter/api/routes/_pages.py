"""Routes for one of the app's own pages: its HTML shell and a fixed list of scripts and stylesheets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi.responses import HTMLResponse

from drafter.web import asset

# The security-headers middleware (drafter.api.middleware) gives these answers their CSP: scripts, styles and
# fetches from our own origin only, and frame-ancestors from DRAFTER_FRAME_ANCESTORS (the portal origins).
HEADERS = {"Cache-Control": "no-cache"}  # a shell holds no PHI: revalidate rather than never store
_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


def page_router(*, tag: str, path: str, page: str, assets: Iterable[str], summary: str) -> APIRouter:
    """GET `path` (the shell `page`) and GET `path`/assets/{name} for the names in `assets` only."""
    types = {name: _TYPES[name.rsplit(".", 1)[-1]] for name in assets}
    router = APIRouter(tags=[tag], include_in_schema=False)

    async def shell() -> HTMLResponse:
        return HTMLResponse(asset(page), headers=HEADERS)

    async def page_asset(name: Annotated[str, Path(max_length=40)]) -> Response:
        # a fixed list: no file system path ever comes from the URL
        if name not in types:
            raise HTTPException(404, f"No asset named {name}.")
        return Response(asset(name), media_type=types[name], headers=HEADERS)

    router.add_api_route(path, shell, methods=["GET"], response_class=HTMLResponse, summary=summary,
                         name=f"{tag}_page")
    router.add_api_route(f"{path}/assets/{{name}}", page_asset, methods=["GET"], name=f"{tag}_asset")
    return router
