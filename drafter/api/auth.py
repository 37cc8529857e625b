"""Authentication and roles for the API: bearer API tokens (or OIDC access tokens) and `require(*roles)`.

Two layers enforce access. Every route declares `Depends(require(...))`, which also documents the bearer scheme
in OpenAPI; and an app-wide dependency checks the route against `drafter.api.policy.ROUTE_POLICY`, refusing any
route the table does not list, so a route that forgets its `require` still fails closed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from drafter.api.oidc import OIDCVerifier, looks_like_jwt
from drafter.api.policy import ROUTE_POLICY
from drafter.api.ratelimit import RateLimits
from drafter.errors import AuthenticationError, PermissionDeniedError
from drafter.identity import Principal, Role
from drafter.storage.accounts import AccountStore, token_id_of
from drafter.storage.repository import DraftStore

__all__ = ["Authenticator", "Principal", "Role", "enforce_route_policy", "require"]

log = logging.getLogger("drafter.api.auth")

_bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="An API token from `drafter users create` (or an OIDC access token when "
                                 "configured), sent as `Authorization: Bearer <token>`.")


class Authenticator:
    """Turns the Authorization header into a Principal once per request; audits and limits failures."""

    def __init__(self, store: DraftStore, limits: RateLimits, oidc: OIDCVerifier | None = None) -> None:
        self.store, self.limits, self.oidc = store, limits, oidc
        self.accounts = AccountStore(store)

    async def _from_token(self, token: str) -> Principal:
        if self.oidc is not None and looks_like_jwt(token):
            return await self.oidc.authenticate(token)
        return await self.accounts.authenticate(token)

    async def principal(self, request: Request) -> Principal:
        """The caller; AuthenticationError (401), or RateLimitedError (429) past the token's rate limit."""
        cached: Principal | None = getattr(request.state, "principal", None)
        if cached is not None:
            return cached
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        try:
            if scheme.lower() != "bearer" or not token:
                raise AuthenticationError("This endpoint needs an API token: send `Authorization: Bearer <token>` "
                                          "(create one with `drafter users create --name NAME --role ROLE`).",
                                          details={"reason": "missing"})
            principal = await self._from_token(token)
        except AuthenticationError as exc:
            await self._failed(request, exc, token_id_of(token) if token else None)
            raise
        await self.limits.check_token(principal.token_id or principal.user_id)
        request.state.principal = principal
        return principal

    async def _failed(self, request: Request, exc: AuthenticationError, token_id: str | None) -> None:
        """Audit the failure (never the token itself: only its public id), up to a rate per client address.

        The caller still gets its 401 past that rate (a token's 256-bit secret cannot be guessed, so there is nothing
        to slow down); the limit only keeps a flood of bad requests from flooding the audit chain as well.
        """
        address = request.client.host if request.client else "unknown"
        reason = exc.details.get("reason", "invalid")
        if await self.limits.allow_auth_failure(address) is not None:
            log.warning("authentication failure not audited: over DRAFTER_AUTH_FAILURE_LIMIT",
                        extra={"reason": reason})
            return
        path = getattr(request.scope.get("route"), "path", request.url.path)[:200]
        await self.store.record_event(
            actor="anonymous", action="auth.failed", entity_type="request", entity_id=token_id or "-",
            details={"reason": reason, "method": request.method, "path": path})


def authenticator(request: Request) -> Authenticator:
    """The app's authenticator, built in the lifespan."""
    found: Authenticator = request.app.state.authenticator
    return found


def _check(principal: Principal, roles: frozenset[Role]) -> Principal:
    if not principal.allowed(roles):
        needed = ", ".join(sorted({*roles, Role.ADMIN}))
        raise PermissionDeniedError(f"Your role ({principal.role}) may not do this; it needs one of: {needed}.",
                                    details={"role": principal.role.value, "allowed": sorted({*roles, Role.ADMIN})})
    return principal


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency: 401 without a valid bearer token, 403 when the role is not allowed; ADMIN always allowed."""
    allowed = frozenset(roles)

    async def dependency(request: Request,
                         _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        return _check(await authenticator(request).principal(request), allowed)

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the route-policy test
    return dependency


async def enforce_route_policy(request: Request) -> None:
    """App-wide dependency: the route must be in ROUTE_POLICY, and the caller must hold one of its roles."""
    route: Any = request.scope.get("route")
    key = (request.method, getattr(route, "path", ""))
    if key not in ROUTE_POLICY:
        raise PermissionDeniedError(f"{key[0]} {key[1]} has no access policy, so it is closed to everyone; add it "
                                    "to drafter.api.policy.ROUTE_POLICY.")
    roles = ROUTE_POLICY[key]
    if roles is not None:
        _check(await authenticator(request).principal(request), roles)
