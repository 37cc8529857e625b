"""Unknown query parameters are an error, like unknown body fields: a typo (?stauts=) must not be silently ignored."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import Request

from drafter.errors import InputError


def _query_names(dependant: Any) -> set[str]:
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        names |= {param.alias for param in current.query_params}
        stack.extend(current.dependencies)
    return names


def _known(route: Any) -> frozenset[str]:
    cached: frozenset[str] | None = getattr(route, "_drafter_query_names", None)
    if cached is None:
        dependant = getattr(route, "dependant", None)
        cached = frozenset(_query_names(dependant) if dependant is not None else ())
        with contextlib.suppress(AttributeError):  # a frozen route object: recompute next time (cheap)
            route._drafter_query_names = cached
    return cached


async def reject_unknown_query_params(request: Request) -> None:
    """App-wide dependency: 422 naming the query parameters the route does not take."""
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    known = _known(route)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise InputError(f"Unknown query parameter(s): {', '.join(unknown)}. This endpoint takes: {takes}.",
                         details={"unknown": unknown, "known": sorted(known)})
