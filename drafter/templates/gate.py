"""The eval gate a version passes before `production` may point at it.

The gate runs the configured eval set on the candidate and on the current production version and compares
the two with the evals' own compare (issue 6); this module is only the small interface the publishing flow
needs and the result stored with the version. A regression blocks publishing unless an admin overrides it
with a written reason (audited).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from drafter.templates.refs import TemplateRef

GateStatus = Literal["passed", "regressed", "unavailable", "error"]


@dataclass(frozen=True, slots=True)
class GateMetric:
    """One compared metric: values on production and on the candidate, and whether it regressed."""

    name: str
    baseline: float | None
    candidate: float | None
    threshold: float | None = None
    regressed: bool = False

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the gate found; stored with the version (TemplateVersion.gate) and shown in the API and CLI."""

    status: GateStatus
    candidate: str
    baseline: str | None
    summary: str
    gate: str  # which gate implementation ran
    dataset: str | None = None
    metrics: tuple[GateMetric, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    ran_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with each metric's delta."""
        data = asdict(self)
        data["metrics"] = [asdict(m) | {"delta": m.delta} for m in self.metrics]
        data["passed"] = self.passed
        return data


class EvalGate(Protocol):
    """Runs the eval set on `candidate` and compares it with `baseline` (None: nothing in production yet)."""

    name: str

    async def run(self, *, candidate: TemplateRef, baseline: TemplateRef | None) -> GateResult: ...


class UnavailableGate:
    """The gate when no eval runner is wired in: it never passes, so publishing needs a written override."""

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def run(self, *, candidate: TemplateRef, baseline: TemplateRef | None) -> GateResult:
        """An `unavailable` result naming why (fail closed: no evidence is not a pass)."""
        return GateResult(status="unavailable", candidate=str(candidate), baseline=str(baseline) if baseline else None,
                          summary=f"The eval gate could not run: {self.reason}. Publishing needs an override with a "
                                  "written reason.", gate=self.name)
