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
    # any signed-in user
    ("GET", "/readyz"): ANY_ROLE,
    ("GET", "/v1/me"): ANY_ROLE,
    # drafts
    ("POST", "/v1/drafts"): CLINICAL,
    ("GET", "/v1/drafts"): READERS,
    ("GET", "/v1/drafts/{draft_id}"): READERS,
    ("POST", "/v1/drafts/{draft_id}/review"): CLINICAL,
    ("POST", "/v1/drafts/{draft_id}/regenerate"): CLINICAL,
    # template administration (issue 8)
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
