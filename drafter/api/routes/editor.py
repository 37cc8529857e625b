"""The template editor page for admins: a static HTML shell, its script and its style, served by the app.

Like the inbox, the shell holds no data: every template, sample and result comes from the template API with the
admin's bearer token (drafter.api.routes.templates), so these routes are public and the API calls are not.
"""

from __future__ import annotations

from drafter.api.routes._pages import page_router

router = page_router(tag="editor", path="/admin/templates", page="editor.html",
                     summary="The template editor page shell.",
                     assets=("editor.js", "editor.css", "common.js", "common.css"))
