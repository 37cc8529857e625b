"""Users and their API tokens. A token is shown once; only its public id and the SHA-256 of its secret are kept."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from drafter.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from drafter.identity import Principal, Role
from drafter.storage.models import ApiToken, User, utcnow
from drafter.storage.repository import DraftStore

TOKEN_PREFIX = "drf_"  # noqa: S105  # a marker for secret scanners, not a secret
# drf_<16 hex: public id>_<43 url-safe base64 chars: 32 random bytes>
_TOKEN_SHAPE = re.compile(r"^drf_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")
_NAME_SHAPE = re.compile(r"^[\w.@+-][\w .@+-]{0,199}$")
# Compared against when the token id is unknown, so a miss costs the same as a wrong secret.
_DUMMY_DIGEST = hashlib.sha256(b"no such token").hexdigest()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """A fresh token: (full token to show once, public id, SHA-256 of the secret to store)."""
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}{token_id}_{secret}", token_id, _digest(secret)


def token_id_of(token: str) -> str | None:
    """The public id of a well-formed token (safe to log and audit), else None."""
    match = _TOKEN_SHAPE.match(token)
    return match["id"] if match else None


@dataclass(frozen=True)
class UserSummary:
    """A user as `drafter users list` shows it (never a secret)."""

    id: str
    name: str
    role: Role
    created_at: datetime
    disabled: bool
    active_tokens: tuple[str, ...]


class AccountStore:
    """Creates, lists, revokes and checks users' tokens; every change lands in the audit chain."""

    def __init__(self, store: DraftStore) -> None:
        self.store = store

    @staticmethod
    def _valid_name(name: str) -> str:
        name = name.strip()
        if not _NAME_SHAPE.match(name):
            raise InputError("A user name is 1-200 letters, digits, spaces or . @ + - _ (e.g. --name dr.lee).")
        return name

    async def create_user(self, name: str, role: Role, *, actor: str) -> tuple[UserSummary, str]:
        """A new user with one token; returns the user and the token (the only time it is available)."""
        name = self._valid_name(name)
        token, token_id, digest = new_token()
        async with self.store.writing() as session:
            if (await session.execute(select(User.id).where(User.name == name))).scalar() is not None:
                raise ConflictError(f"A user named {name!r} exists already; give them another token with "
                                    f"`drafter users token --name {name!r}`.")
            user = User(name=name, role=role.value, created_at=utcnow())
            session.add(user)
            await session.flush()
            session.add(ApiToken(id=token_id, user_id=user.id, secret_sha256=digest, created_at=utcnow()))
            await self.store.append_event(session, actor=actor, action="user.created", entity_type="user",
                                          entity_id=user.id, details={"name": name, "role": role.value})
            await self.store.append_event(session, actor=actor, action="token.created", entity_type="user",
                                          entity_id=user.id, details={"token_id": token_id})
            summary = UserSummary(user.id, name, role, user.created_at, False, (token_id,))
        return summary, token

    async def issue_token(self, name: str, *, actor: str) -> str:
        """Another token for an existing, enabled user (e.g. to rotate one)."""
        token, token_id, digest = new_token()
        async with self.store.writing() as session:
            user = (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()
            if user is None:
                raise NotFoundError(f"No user named {name!r}; create one with `drafter users create`.")
            if user.disabled_at is not None:
                raise ConflictError(f"User {name!r} was revoked; create a new user instead.")
            session.add(ApiToken(id=token_id, user_id=user.id, secret_sha256=digest, created_at=utcnow()))
            await self.store.append_event(session, actor=actor, action="token.created", entity_type="user",
                                          entity_id=user.id, details={"token_id": token_id})
        return token

    async def list_users(self) -> list[UserSummary]:
        """Every user with the ids of their active tokens, oldest first."""
        query = select(User).options(selectinload(User.tokens)).order_by(User.created_at, User.name)
        async with self.store.reading() as session:
            users = list((await session.execute(query)).scalars())
        return [UserSummary(u.id, u.name, Role(u.role), u.created_at, u.disabled_at is not None,
                            tuple(t.id for t in u.tokens if t.revoked_at is None)) for u in users]

    async def count_active_users(self) -> int:
        """Users that are not revoked (0 on a fresh install: nobody can call the API yet)."""
        async with self.store.reading() as session:
            query = select(func.count()).select_from(User).where(User.disabled_at.is_(None))
            return int((await session.execute(query)).scalar_one())

    async def revoke_user(self, name: str, *, actor: str) -> list[str]:
        """Disable a user and revoke all their tokens; returns the revoked token ids."""
        async with self.store.writing() as session:
            user = (await session.execute(select(User).where(User.name == name)
                                          .options(selectinload(User.tokens)))).scalar_one_or_none()
            if user is None:
                raise NotFoundError(f"No user named {name!r} (see `drafter users list`).")
            now = utcnow()
            revoked = [t.id for t in user.tokens if t.revoked_at is None]
            for t in user.tokens:
                t.revoked_at = t.revoked_at or now
            user.disabled_at = user.disabled_at or now
            await self.store.append_event(session, actor=actor, action="user.revoked", entity_type="user",
                                          entity_id=user.id, details={"token_ids": revoked})
        return revoked

    async def revoke_token(self, token_id: str, *, actor: str) -> None:
        """Revoke one token by its public id; the user and their other tokens stay."""
        async with self.store.writing() as session:
            token = await session.get(ApiToken, token_id)
            if token is None:
                raise NotFoundError(f"No token with id {token_id!r} (ids are listed by `drafter users list`).")
            if token.revoked_at is None:
                token.revoked_at = utcnow()
            await self.store.append_event(session, actor=actor, action="token.revoked", entity_type="user",
                                          entity_id=token.user_id, details={"token_id": token_id})

    async def authenticate(self, token: str) -> Principal:
        """The principal a bearer token stands for; AuthenticationError (with a reason) otherwise."""
        match = _TOKEN_SHAPE.match(token)
        if match is None:
            raise AuthenticationError("The bearer token is malformed; use a token from `drafter users create`.",
                                      details={"reason": "malformed"})
        # Every request runs this: one joined SELECT of the columns it needs (no ORM objects), not two statements.
        query = (select(ApiToken.secret_sha256, ApiToken.revoked_at, User.id, User.name, User.role, User.disabled_at)
                 .join(User, ApiToken.user_id == User.id).where(ApiToken.id == match["id"]))
        row = await self.store.run_read(lambda session: session.execute(query).one_or_none())
        expected = row.secret_sha256 if row is not None else _DUMMY_DIGEST
        if not hmac.compare_digest(expected, _digest(match["secret"])) or row is None:
            raise AuthenticationError("The bearer token is not valid.", details={"reason": "unknown"})
        if row.revoked_at is not None or row.disabled_at is not None:
            raise AuthenticationError("The bearer token was revoked.", details={"reason": "revoked"})
        return Principal(user_id=row.id, name=row.name, role=Role(row.role), token_id=match["id"])
