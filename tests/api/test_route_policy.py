"""Every route of the app has an access policy, declares it in code, and answers routes x roles as the table says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from drafter.api.app import create_app
from drafter.api.policy import LOOPBACK_ONLY, ROUTE_POLICY
from drafter.identity import Role
from drafter.settings import Settings

CALLERS = ["anonymous", *Role]
SAMPLE_PATH_PARAMS = {"draft_id": "00000000-0000-4000-8000-000000000000"}
SAMPLE_PATH_PARAMS |= {"resource_id": "00000000-0000-4000-8000-000000000000", "name": "common.js"}  # issues 9, 8
SAMPLE_PATH_PARAMS |= {"set_name": "default", "version": "1", "label": "staging"}  # issue 8


def routes(app: FastAPI) -> dict[tuple[str, str], Any]:
    """(method, path template) -> route context, for every route the app serves (HEAD is GET's twin)."""
    found: dict[tuple[str, str], Any] = {}
    for context in iter_route_contexts(app.routes):
        path = context.path
        for method in sorted(context.methods or {"GET"}):
            if method != "HEAD" and path is not None:
                found[(method, path)] = context
    return found


def declared_roles(context: Any) -> list[frozenset[Role]]:
    """The roles of every `require(...)` dependency the route declares (sub-dependencies included)."""
    out: list[frozenset[Role]] = []
    stack = list(getattr(context, "dependant", None).dependencies) if getattr(context, "dependant", None) else []
    while stack:
        dep = stack.pop()
        roles = getattr(dep.call, "allowed_roles", None)
        if roles is not None:
            out.append(roles)
        stack.extend(dep.dependencies)
    return out


@pytest.fixture(scope="module")
def app_routes() -> dict[tuple[str, str], Any]:
    return routes(create_app(Settings(llm_base_url="http://llm.invalid/v1")))


def test_every_route_has_a_policy_and_every_policy_a_route(app_routes: dict[tuple[str, str], Any]) -> None:
    missing = sorted(set(app_routes) - set(ROUTE_POLICY))
    assert not missing, f"routes without an entry in drafter.api.policy.ROUTE_POLICY: {missing}"
    stale = sorted(set(ROUTE_POLICY) - set(app_routes))
    assert not stale, f"ROUTE_POLICY entries for routes that do not exist: {stale}"


@pytest.mark.parametrize("key", sorted(ROUTE_POLICY))
def test_each_route_declares_exactly_its_policy(app_routes: dict[tuple[str, str], Any],
                                                key: tuple[str, str]) -> None:
    policy = ROUTE_POLICY[key]
    declared = declared_roles(app_routes[key])
    if policy is None:
        assert declared == [], f"{key} is public in ROUTE_POLICY but requires a token in code"
    else:
        assert declared == [policy], f"{key}: code requires {declared}, ROUTE_POLICY says {sorted(policy)}"


def expected_status(policy: frozenset[Role] | None, caller: str) -> str:
    if policy is None:
        return "allowed"
    if caller == "anonymous":
        return "401"
    return "allowed" if caller == Role.ADMIN or Role(caller) in policy else "403"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("key", sorted(ROUTE_POLICY))
def test_route_role_matrix(key: tuple[str, str], caller: str, anon_client: TestClient,
                           client_for: Callable[[Role | str], TestClient], fake_llm: Any) -> None:
    fake_llm.default = "Thank you for your message; your care team will reply today.\n[CLINICIAN_NAME]"
    method, template = key
    http = anon_client if caller == "anonymous" else client_for(caller)
    path = template.format(**SAMPLE_PATH_PARAMS)
    response = http.request(method, path, json={} if method in {"POST", "PUT", "PATCH"} else None)
    # The test clients' peer is not a loopback address, so a loopback-only public route refuses them all.
    expected = "403" if key in LOOPBACK_ONLY else expected_status(ROUTE_POLICY[key], caller)
    if expected == "allowed":
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == int(expected), response.text
        if template.startswith("/fhir/"):  # FHIR answers every error as an OperationOutcome (issue 9)
            assert response.json()["issue"][0]["code"] == {"401": "login", "403": "forbidden"}[expected]
        else:
            assert response.json()["error"]["code"] == {"401": "unauthenticated", "403": "forbidden"}[expected]
        if expected == "401":
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_route_missing_from_the_policy_is_closed_even_to_admins(settings: Settings, fake_llm: Any) -> None:
    app = create_app(settings, llm=fake_llm)

    @app.get("/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"secret": "patient data"}

    with TestClient(app, raise_server_exceptions=False) as http:
        accounts = app.state.authenticator.accounts
        assert http.portal is not None
        _, token = http.portal.call(lambda: accounts.create_user("root", Role.ADMIN, actor="tests"))
        response = http.get("/v1/forgotten", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "ROUTE_POLICY" in response.json()["error"]["message"]
    assert "patient data" not in response.text
