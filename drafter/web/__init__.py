"""The app's own pages (the clinician inbox, the template editor): static files read from this package."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def asset(name: str) -> bytes:
    """One of the page files shipped in this package (callers pass names from a fixed list only)."""
    return resources.files(__name__).joinpath(name).read_bytes()
