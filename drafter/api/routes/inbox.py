"""The clinician inbox page: a static HTML shell, its script and its style, all served by the app.

The shell carries no patient data (everything comes from the API with the user's bearer token), so these routes
are public.
"""

from __future__ import annotations

from drafter.api.routes._pages import page_router

# common.* are shared with the template editor (drafter.api.routes.editor): sign-in, the API call, DOM helpers.
router = page_router(tag="inbox", path="/inbox", page="inbox.html", summary="The inbox page shell.",
                     assets=("inbox.js", "inbox.css", "common.js", "common.css"))
