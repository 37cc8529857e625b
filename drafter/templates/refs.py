"""Template references as users type them: `name`, `name@3` (a version) or `name@staging` (a label)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from drafter.errors import InputError

PRODUCTION = "production"
SET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LABEL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """A set and either a version number or a label (the production label when neither is given)."""

    set_name: str
    version: int | None = None
    label: str | None = None

    def __str__(self) -> str:
        return f"{self.set_name}@{self.version if self.version is not None else self.label or PRODUCTION}"

    @classmethod
    def parse(cls, text: str, *, default_set: str) -> TemplateRef:
        """Parse `name`, `name@N`, `name@label` or `@label`; raise InputError naming the accepted forms."""
        raw = text.strip()
        name, _, selector = raw.partition("@")
        name = name or default_set
        if not SET_NAME.match(name):
            raise InputError(f"Template set {name!r} is not a valid name: use lower-case letters, digits, - and _ "
                             "(e.g. default@production or default@3).")
        if not selector:
            return cls(name, label=PRODUCTION)
        if selector.isdigit():
            return cls(name, version=int(selector))
        if not LABEL_NAME.match(selector):
            raise InputError(f"Template reference {raw!r} is not valid: use name@VERSION (a number) or name@LABEL "
                             "(lower-case letters, digits, - and _).")
        return cls(name, label=selector)
