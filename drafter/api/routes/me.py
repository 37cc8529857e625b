"""Who am I: lets a page check the token it was given before it shows anything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from drafter.api.auth import Principal, Role, require
from drafter.api.schemas import ErrorBody, Me

router = APIRouter(tags=["users"])


@router.get("/v1/me", response_model=Me, responses={code: {"model": ErrorBody} for code in (401, 403, 429)})
async def me(principal: Annotated[Principal, Depends(require(Role.CLINICIAN, Role.QA, Role.ADMIN))]) -> Me:
    """The user and role behind the bearer token."""
    return Me(user_id=principal.user_id, name=principal.name, role=principal.role.value)
