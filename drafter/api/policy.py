"""Who may call which route: (method, path template) -> roles allowed, or None for public.

ADMIN passes every check, so it is implied. Public routes carry no patient data: liveness and the API docs.
Every new route must add its entry here: the app refuses routes missing from this table (403), and
tests/api/test_route_policy.py fails on them.
"""

from __future__ import annotations

from drafter.identity import Role

CLINICAL = frozenset({Role.CLINICIAN})
READERS = frozenset({Role.CLINICIAN, Role.QA})
ANY_ROLE = frozenset({Role.CLINICIAN, Role.QA, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})

ROUTE_POLICY: dict[tuple[str, str], frozenset[Role] | None] = {
    # public: no patient data
    ("GET", "/healthz"): None,
    ("GET", "/openapi.json"): None,
    ("GET", "/docs"): None,
    ("GET", "/docs/oauth2-redirect"): None,
    ("GET", "/redoc"): None,
    # Prometheus: no patient data (tests/api/test_metrics.py), but operational detail, so no token is asked for
    # only from loopback without a proxy in between (drafter.api.metrics): a scraper on the same host or pod needs
    # no credential that could also read drafts.
    ("GET", "/metrics"): None,
    # any signed-in user
    ("GET", "/readyz"): ANY_ROLE,
    ("GET", "/v1/me"): ANY_ROLE,
    # drafts
    ("POST", "/v1/drafts"): CLINICAL,
    ("GET", "/v1/drafts"): READERS,
    ("GET", "/v1/drafts/{draft_id}"): READERS,
    ("POST", "/v1/drafts/{draft_id}/review"): CLINICAL,
    ("POST", "/v1/drafts/{draft_id}/regenerate"): CLINICAL,
    # inbox (issue 9): the page shell and its assets carry no patient data; everything else needs a token
    ("GET", "/inbox"): None,
    ("GET", "/inbox/assets/{name}"): None,
    ("POST", "/v1/messages"): CLINICAL,
    ("GET", "/v1/drafts/{draft_id}/events"): READERS,
    ("POST", "/v1/drafts/{draft_id}/feedback"): CLINICAL,
    ("GET", "/v1/drafts/{draft_id}/feedback"): READERS,
    ("POST", "/fhir/Communication"): CLINICAL,
    ("GET", "/fhir/Communication"): READERS,
    ("GET", "/fhir/Communication/{resource_id}"): READERS,
    # template administration (issue 8); the editor page's shell and assets carry no data, like the inbox's
    ("GET", "/admin/templates"): None,
    ("GET", "/admin/templates/assets/{name}"): None,
    ("GET", "/v1/template-samples"): ADMINS,
    ("GET", "/v1/templates"): ADMINS,
    ("GET", "/v1/templates/{set_name}/versions"): ADMINS,
    ("POST", "/v1/templates/{set_name}/versions"): ADMINS,
    ("GET", "/v1/templates/{set_name}/versions/{version}"): ADMINS,
    ("POST", "/v1/templates/{set_name}/validate"): ADMINS,
    ("POST", "/v1/templates/{set_name}/versions/{version}/validate"): ADMINS,
    ("POST", "/v1/templates/{set_name}/preview"): ADMINS,
    ("POST", "/v1/templates/{set_name}/versions/{version}/preview"): ADMINS,
    ("GET", "/v1/templates/{set_name}/diff"): ADMINS,
    ("POST", "/v1/templates/{set_name}/versions/{version}/gate"): ADMINS,
    ("POST", "/v1/templates/{set_name}/versions/{version}/publish"): ADMINS,
    ("POST", "/v1/templates/{set_name}/rollback"): ADMINS,
    ("PUT", "/v1/templates/{set_name}/labels/{label}"): ADMINS,
    ("GET", "/v1/templates/{set_name}/labels/{label}/history"): ADMINS,
    ("GET", "/v1/templates/{set_name}/versions/{version}/outcomes"): ADMINS,
}

# Public routes that, besides, answer only callers on loopback with no proxy header (403 otherwise); the route
# itself enforces it (drafter.api.metrics.from_loopback).
LOOPBACK_ONLY: frozenset[tuple[str, str]] = frozenset({("GET", "/metrics")})
