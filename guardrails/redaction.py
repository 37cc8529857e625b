"""Reversible placeholders for identifiers, so the model never sees them when the policy says so."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass
class Redactor:
    """Assigns one stable placeholder per distinct value ([PATIENT_NAME], [PHONE_1], ...) and restores them."""

    mapping: dict[str, str] = field(default_factory=dict)  # placeholder -> original value
    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)

    def placeholder(self, kind: str, value: str) -> str:
        """The placeholder for a value, creating it on first sight."""
        key = (kind, value.lower())
        if key not in self._by_value:
            if kind == "name" and "[PATIENT_NAME]" not in self.mapping:
                token = "[PATIENT_NAME]"  # noqa: S105 - a placeholder, not a secret
            else:
                count = sum(1 for (k, _) in self._by_value if k == kind) + 1
                token = f"[{kind.upper()}_{count}]"
            self._by_value[key] = token
            self.mapping[token] = value
        return self._by_value[key]

    def redact(self, text: str, spans: Iterable[tuple[str, tuple[int, int], str]]) -> str:
        """Replace the given (kind, span, value) spans of text, right to left so offsets stay valid."""
        for kind, (start, end), value in sorted(spans, key=lambda s: s[1][0], reverse=True):
            text = text[:start] + self.placeholder(kind, value) + text[end:]
        return text

    def redact_values(self, text: str) -> str:
        """Replace every value already seen, wherever it appears (context notes, names)."""
        for token, value in sorted(self.mapping.items(), key=lambda item: -len(item[1])):
            text = _replace_ci(text, value, token)
        return text

    def restore(self, text: str) -> str:
        """Put the original values back in place of their placeholders."""
        for token, value in self.mapping.items():
            text = text.replace(token, value)
        return text


def _replace_ci(text: str, value: str, token: str) -> str:
    if not value:
        return text
    lowered, needle, out, i = text.lower(), value.lower(), [], 0
    while (j := lowered.find(needle, i)) >= 0:
        out.append(text[i:j])
        out.append(token)
        i = j + len(value)
    out.append(text[i:])
    return "".join(out)


def redact_tree(value: object, redactor: Redactor) -> object:
    """Redact every string inside nested dicts and lists (prompt variables)."""
    if isinstance(value, str):
        return redactor.redact_values(value)
    if isinstance(value, Mapping):
        return {k: redact_tree(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, redactor) for v in value]
    return value
