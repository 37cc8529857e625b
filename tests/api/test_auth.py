"""Bearer tokens (API tokens and OIDC JWTs), roles, identity from the token, rate limits and audited failures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import select

from drafter.api.app import create_app
from drafter.identity import Role
from drafter.settings import Settings
from drafter.storage.models import ApiToken, AuditEvent
from tests.conftest import GOOD_REPLY, FakeLLM

ISSUER, AUDIENCE = "https://login.test/realms/clinic", "drafter"


def call(http: TestClient, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a coroutine function on the app's event loop (where its database engine lives)."""
    assert http.portal is not None
    return http.portal.call(lambda: fn(*args, **kwargs))


@contextmanager
def running(settings: Settings, llm: FakeLLM | None = None) -> Iterator[TestClient]:
    with TestClient(create_app(settings, llm=llm or FakeLLM()), raise_server_exceptions=False) as http:
        yield http


def audit(http: TestClient) -> list[AuditEvent]:
    store = http.app.state.services.store  # type: ignore[attr-defined]
    return list(call(http, store.audit_events))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing"),
        ("Basic dXNlcjpwYXNz", "missing"),
        ("Bearer ", "missing"),
        ("Bearer not-a-token", "malformed"),
        ("Bearer drf_0123456789abcdef_" + "A" * 43, "unknown"),
    ],
)
def test_requests_without_a_valid_token_are_401_and_audited(anon_client: TestClient, app_client: TestClient,
                                                            authorization: str | None, reason: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = anon_client.get("/v1/drafts", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert r.headers["www-authenticate"] == 'Bearer realm="drafter"'
    failures = [e for e in audit(app_client) if e.action == "auth.failed"]
    assert [(e.actor, e.details["reason"], e.details["path"]) for e in failures] == [
        ("anonymous", reason, "/v1/drafts")]
    assert failures[0].entity_id == ("0123456789abcdef" if reason == "unknown" else "-")  # the id, never the secret


def test_token_is_stored_hashed_and_a_wrong_secret_fails(client_for: Callable[[Role], TestClient],
                                                         tokens: Callable[[Role], str], app_client: TestClient,
                                                         anon_client: TestClient) -> None:
    token = tokens(Role.QA)
    token_id, secret = token.removeprefix("drf_").split("_", 1)
    store = app_client.app.state.services.store  # type: ignore[attr-defined]

    async def rows() -> list[ApiToken]:
        async with store.reading() as session:
            return list((await session.execute(select(ApiToken))).scalars())

    stored = call(app_client, rows)
    assert [t.id for t in stored] == [token_id]
    assert secret not in json.dumps([t.secret_sha256 for t in stored]) and len(stored[0].secret_sha256) == 64
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert anon_client.get("/v1/me", headers=bearer(wrong)).status_code == 401
    me = client_for(Role.QA).get("/v1/me").json()
    assert me["name"] == "test-qa" and me["role"] == "qa"


def test_revoked_users_and_tokens_stop_working_at_once(client_for: Callable[[Role], TestClient],
                                                       tokens: Callable[[Role], str], app_client: TestClient,
                                                       anon_client: TestClient) -> None:
    accounts = app_client.app.state.authenticator.accounts  # type: ignore[attr-defined]
    first = tokens(Role.CLINICIAN)
    second = call(app_client, accounts.issue_token, "test-clinician", actor="tests")
    assert anon_client.get("/v1/me", headers=bearer(second)).status_code == 200
    call(app_client, accounts.revoke_token, second.split("_")[1], actor="tests")
    assert anon_client.get("/v1/me", headers=bearer(second)).status_code == 401
    assert anon_client.get("/v1/me", headers=bearer(first)).status_code == 200
    call(app_client, accounts.revoke_user, "test-clinician", actor="tests")
    r = anon_client.get("/v1/me", headers=bearer(first))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    actions = [e.action for e in audit(app_client) if not e.action.startswith("template.")]  # start-up seeding
    assert actions[:4] == ["user.created", "token.created", "token.created", "token.revoked"]
    assert "user.revoked" in actions and actions[-1] == "auth.failed"


def test_identity_comes_from_the_token_everywhere(client: TestClient, fake_llm: FakeLLM,
                                                  app_client: TestClient) -> None:
    fake_llm.default = GOOD_REPLY
    draft = client.post("/v1/drafts", json={"message": {"text": "My knee hurts when I walk."}}).json()
    again = client.post(f"/v1/drafts/{draft['id']}/regenerate").json()
    reviewed = client.post(f"/v1/drafts/{again['id']}/review", json={"decision": "approve"}).json()
    assert reviewed["review"]["reviewer"] == "test-clinician"
    by_action = {e.action: e.actor for e in audit(app_client)}
    assert by_action["message.received"] == by_action["draft.regenerated"] == "test-clinician"
    assert by_action["draft.approved"] == "test-clinician"


def test_per_token_rate_limit_answers_429_with_retry_after(settings: Settings) -> None:
    with running(settings.model_copy(update={"rate_limit": "3/minute"})) as http:
        accounts = http.app.state.authenticator.accounts  # type: ignore[attr-defined]
        one = call(http, accounts.create_user, "one", Role.QA, actor="tests")[1]
        two = call(http, accounts.create_user, "two", Role.QA, actor="tests")[1]
        codes = [http.get("/v1/me", headers=bearer(one)).status_code for _ in range(4)]
        limited = http.get("/v1/me", headers=bearer(one))
        other = http.get("/v1/me", headers=bearer(two))
    assert codes == [200, 200, 200, 429]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert other.status_code == 200  # limits are per token


def test_audited_authentication_failures_are_limited_per_address(settings: Settings) -> None:
    with running(settings.model_copy(update={"auth_failure_limit": "2/minute"})) as http:
        codes = [http.get("/v1/drafts", headers=bearer("guess")).status_code for _ in range(4)]
        failures = [e for e in audit(http) if e.action == "auth.failed"]
    assert codes == [401, 401, 401, 401]  # still 401: a 256-bit secret cannot be guessed, nothing to slow down
    assert len(failures) == 2  # but a flood does not write an event per request


# --- OIDC ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), \
        rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        pass


@pytest.fixture
def jwks_url(keys: tuple[Any, Any], tmp_path: Path) -> Iterator[str]:
    """The identity provider's key set, served on loopback (PyJWT fetches only http and https URLs)."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys[0].public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def oidc_settings(settings: Settings, jwks_url: str) -> Settings:
    return settings.model_copy(update={"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_url": jwks_url,
                                       "oidc_role_claim": "realm_access.roles"})


def signed(key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-123", "preferred_username": "alice", "iat": now,
            "exp": now + 300, "realm_access": {"roles": ["clinician"]}, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256",
                      headers={"kid": "k1"})


@pytest.mark.parametrize(
    ("claims", "other_key", "status", "reason"),
    [
        ({}, False, 200, None),
        ({"realm_access": {"roles": ["offline_access", "qa", "admin"]}}, False, 200, None),
        ({"exp": int(time.time()) - 3600}, False, 401, "expired"),
        ({"aud": "someone-else"}, False, 401, "invalid_jwt"),
        ({"iss": "https://evil.test"}, False, 401, "invalid_jwt"),
        ({"exp": None}, False, 401, "invalid_jwt"),
        ({}, True, 401, "invalid_jwt"),
        ({"realm_access": {"roles": ["nurse"]}}, False, 401, "no_role"),
    ],
    ids=["valid", "strongest-role", "expired", "audience", "issuer", "no-exp", "foreign-key", "no-role"],
)
def test_oidc_access_tokens(oidc_settings: Settings, keys: tuple[Any, Any], claims: dict[str, Any],
                            other_key: bool, status: int, reason: str | None) -> None:
    token = signed(keys[1] if other_key else keys[0], **claims)
    with running(oidc_settings) as http:
        r = http.get("/v1/me", headers=bearer(token))
        events = audit(http)
    assert r.status_code == status, r.text
    if status == 200:
        expected_role = "admin" if "admin" in json.dumps(claims) else "clinician"
        assert r.json() == {"user_id": "oidc:u-123", "name": "oidc:alice", "role": expected_role}
    else:
        assert [e.details["reason"] for e in events if e.action == "auth.failed"] == [reason]


def test_oidc_roles_are_enforced_like_api_tokens(oidc_settings: Settings, keys: tuple[Any, Any]) -> None:
    qa = signed(keys[0], realm_access={"roles": ["qa"]})
    with running(oidc_settings) as http:
        assert http.get("/v1/drafts", headers=bearer(qa)).status_code == 200
        denied = http.post("/v1/drafts", headers=bearer(qa), json={"message": {"text": "hello"}})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
