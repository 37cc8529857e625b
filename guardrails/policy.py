"""The guardrail policy: enabled, severity and thresholds per check, validated against the registry."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from guardrails.finding import Severity
from guardrails.registry import CHECKS

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.yaml")


class PolicyError(ValueError):
    """The policy file names an unknown check, severity or threshold."""


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    enabled: bool = True
    severity: Severity | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


_DEFAULT_CHECK = CheckPolicy()


@dataclass(frozen=True, slots=True)
class Policy:
    checks: Mapping[str, CheckPolicy] = field(default_factory=dict)
    redact_phi: bool = False  # placeholders for identifiers before the model call, restored after

    def for_check(self, name: str) -> CheckPolicy:
        """The policy of one check; a check the file does not mention runs with its defaults."""
        return self.checks.get(name, _DEFAULT_CHECK)  # one shared default: no object built per check and draft


def parse_policy(data: Mapping[str, Any], *, source: str = "policy") -> Policy:
    """Validate a policy mapping: every check, severity and threshold must exist."""
    unknown_keys = set(data) - {"checks", "redact_phi"}
    if unknown_keys:
        raise PolicyError(f"{source}: unknown setting(s) {', '.join(sorted(unknown_keys))}; use checks, redact_phi")
    redact = data.get("redact_phi", False)
    if not isinstance(redact, bool):
        raise PolicyError(f"{source}: redact_phi must be true or false")
    raw_checks = data.get("checks") or {}
    if not isinstance(raw_checks, Mapping):
        raise PolicyError(f"{source}: 'checks' must be a mapping of check name to settings")
    checks: dict[str, CheckPolicy] = {}
    for name, raw in raw_checks.items():
        if name not in CHECKS:
            raise PolicyError(f"{source}: unknown check {name!r}; known checks: {', '.join(sorted(CHECKS))}")
        raw = dict(raw or {})
        enabled = raw.pop("enabled", True)
        if not isinstance(enabled, bool):
            raise PolicyError(f"{source}: {name}.enabled must be true or false")
        severity = raw.pop("severity", None)
        if severity is not None and severity not in {s.value for s in Severity}:
            raise PolicyError(f"{source}: {name}.severity must be one of block, warn, info (got {severity!r})")
        accepted = {
            p.name for p in inspect.signature(CHECKS[name].fn).parameters.values() if p.kind is p.KEYWORD_ONLY
        }
        unknown = set(raw) - accepted
        if unknown:
            raise PolicyError(f"{source}: {name} has no threshold {', '.join(sorted(unknown))}; "
                              f"it accepts: {', '.join(sorted(accepted)) or 'none'}")
        checks[name] = CheckPolicy(enabled, Severity(severity) if severity else None, raw)
    return Policy(checks, redact_phi=redact)


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> Policy:
    """Read and validate a policy file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read guardrail policy {path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PolicyError(f"{path}: expected a mapping at the top level")
    return parse_policy(data, source=str(path))
