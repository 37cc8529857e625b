"""What a benchmark hands the runner (`python -m bench`): rows of one shared table.

A bench module is any module in bench/ with a `main(argv)` function. It prints its own detail and may return a
list of `Row`s; the runner gathers the rows of every module it ran into one table (printed and written to
bench/results.md, with each module's printed output below it). A module that returns None still runs; its
output is kept and the table says to read it.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """One figure: what was measured, the value as text (with its spread), the target and whether it was met."""

    bench: str
    figure: str
    measured: str
    target: str = ""
    met: bool | None = None  # None: no target, or not comparable

    @property
    def verdict(self) -> str:
        """met / NOT met / blank."""
        return "" if self.met is None else "met" if self.met else "NOT met"


def machine() -> str:
    """The machine beside every figure: cores, CPU and the load average now (the host is shared)."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, load average {load}"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated; for p99 of a few hundred samples this is near the top ones."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1] if q < 100 else ordered[-1]


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """The median of repeated measurements and their range: '1.23 (0.98-1.50, 3 runs)'."""
    if len(values) == 1:
        return fmt.format(values[0])
    return (f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))} to {fmt.format(max(values))}, "
            f"{len(values)} runs)")
