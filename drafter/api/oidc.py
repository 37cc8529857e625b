"""Optional OIDC access tokens (JWT): signature from the issuer's JWKS, issuer, audience, expiry and a role claim."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from drafter.errors import AuthenticationError, ConfigError
from drafter.identity import Principal, Role
from drafter.settings import Settings

# When a token lists several roles, the strongest one counts.
_STRENGTH = {Role.CLINICIAN: 1, Role.QA: 1, Role.ADMIN: 2}


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: a JWT rather than one of our API tokens."""
    return token.count(".") == 2


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class OIDCVerifier:
    """Validates access tokens against one issuer; the JWKS is fetched lazily and cached by PyJWT."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer
        assert settings.oidc_audience
        assert settings.oidc_jwks_url
        self.issuer, self.audience = settings.oidc_issuer, settings.oidc_audience
        self.role_claim, self.name_claim = settings.oidc_role_claim, settings.oidc_name_claim
        self.algorithms = [a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()]
        try:
            self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_jwk_set=True, lifespan=300, timeout=5)
        except jwt.PyJWKClientError as exc:
            raise ConfigError(f"DRAFTER_OIDC_JWKS_URL: {exc}") from None

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]}, leeway=30)
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("The access token has expired.", details={"reason": "expired"}) from None
        except jwt.PyJWKClientConnectionError:
            raise AuthenticationError("The identity provider's keys could not be fetched; try again shortly.",
                                      details={"reason": "jwks_unavailable"}) from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError("The access token is not valid for this service.",
                                      details={"reason": "invalid_jwt", "problem": type(exc).__name__}) from None
        return claims

    async def authenticate(self, token: str) -> Principal:
        """The principal of a valid access token; the role comes from the configured claim."""
        claims = await asyncio.to_thread(self._decode, token)  # the JWKS fetch is blocking I/O
        raw = _claim(claims, self.role_claim)
        names = [raw] if isinstance(raw, str) else [r for r in raw if isinstance(r, str)] if isinstance(raw, list) \
            else []
        roles = [Role(n) for n in names if n in Role.__members__.values()]
        if not roles:
            raise AuthenticationError(f"The access token carries no drafter role in claim {self.role_claim!r} "
                                      "(clinician, qa or admin).", details={"reason": "no_role"})
        role = max(roles, key=lambda r: _STRENGTH[r])
        subject = str(claims["sub"])
        name = _claim(claims, self.name_claim)
        return Principal(user_id=f"oidc:{subject}", name=f"oidc:{name if isinstance(name, str) else subject}",
                         role=role)
