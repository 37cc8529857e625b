"""Run the benchmarks and gather their figures into one table (printed, and written to bench/results.md).

    .venv/bin/python -m bench                      # every bench module (or ./scripts/bench)
    .venv/bin/python -m bench overhead guardrails  # only these
    .venv/bin/python -m bench --skip local_model   # all but these
    .venv/bin/python -m bench --list
    .venv/bin/python -m bench overhead --args overhead="--drafts 100 --repeats 5"

A bench module is any module in bench/ whose name does not start with "_" and that has a `main` function:
`main(argv)` gets the words of its --args (a `main()` without parameters sees them in sys.argv). It prints its
detail and may return a list of bench.report.Row for the shared table; whatever it prints goes into results.md
under its own heading. A module that fails is reported as failed and the others still run (exit status 1).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import pkgutil
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import bench
from bench.report import Row, machine

RESULTS = Path(__file__).resolve().parent / "results.md"
NOT_BENCHES = frozenset({"report"})


def discover() -> dict[str, ModuleType]:
    """Every bench module in bench/ that exposes main(), by name."""
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in NOT_BENCHES:
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "main", None)):
            found[info.name] = module
    return found


class _Tee(io.TextIOBase):
    """Write to the terminal and keep a copy."""

    def __init__(self, terminal: TextIO) -> None:
        self.terminal, self.copy = terminal, io.StringIO()

    def write(self, text: str) -> int:
        self.terminal.write(text)
        return self.copy.write(text)

    def flush(self) -> None:
        self.terminal.flush()


@dataclass
class Outcome:
    """What one bench module produced."""

    name: str
    rows: list[Row] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0
    error: str | None = None


def _call(main: Callable[..., Any], name: str, argv: list[str]) -> Any:
    if inspect.signature(main).parameters:
        return main(argv)
    saved = sys.argv
    sys.argv = [f"bench.{name}", *argv]
    try:
        return main()
    finally:
        sys.argv = saved


def run_one(name: str, module: ModuleType, argv: list[str]) -> Outcome:
    """Run one module's main, keeping what it printed and returned; a failure is recorded, not raised."""
    outcome = Outcome(name)
    tee = _Tee(sys.stdout)
    started = time.perf_counter()
    with contextlib.redirect_stdout(tee):
        print(f"\n=== bench.{name} {' '.join(argv)}".rstrip(), flush=True)
        try:
            returned = _call(module.main, name, argv)
            if isinstance(returned, list) and all(isinstance(r, Row) for r in returned):
                outcome.rows = returned
        except SystemExit as exc:  # argparse errors and benches that stop with a message
            if exc.code not in (None, 0):
                outcome.error = str(exc.code)
        except Exception as exc:
            traceback.print_exc(file=sys.stdout)
            outcome.error = f"{type(exc).__name__}: {exc}"
    outcome.seconds = time.perf_counter() - started
    outcome.output = tee.copy.getvalue()
    return outcome


def table(outcomes: Sequence[Outcome]) -> str:
    """One markdown table of every figure; a module without rows gets one line pointing at its section."""
    lines = ["| bench | figure | measured | target | verdict |", "| --- | --- | --- | --- | --- |"]
    for o in outcomes:
        if o.error:
            lines.append(f"| {o.name} | (failed) | {o.error.splitlines()[0][:160]} |  | failed |")
        elif not o.rows:
            lines.append(f"| {o.name} | see its section below | ran in {o.seconds:.0f} s |  |  |")
        for r in o.rows:
            lines.append(f"| {r.bench} | {r.figure} | {r.measured} | {r.target} | {r.verdict} |")
    return "\n".join(lines)


def report(outcomes: Sequence[Outcome], command: str, before: str, after: str) -> str:
    """results.md: the table, the machine, then each module's own output."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"# Benchmarks\n\n{when}, `{command}`\n\nMachine before: {before}  \nMachine after: {after}\n\n"
             "Every figure is a ratio or a side-by-side measured in the same run; the host is shared, so spreads "
             "over repeats are given where a bench repeats.\n", table(outcomes)]
    for o in outcomes:
        parts.append(f"## bench.{o.name} ({o.seconds:.0f} s)\n\n```text\n{o.output.strip()}\n```")
    return "\n\n".join(parts) + "\n"


def run(modules: Mapping[str, ModuleType], names: Sequence[str], extra: Mapping[str, list[str]],
        results: Path | None, command: str) -> list[Outcome]:
    """Run the named modules in order, print the table and write the report."""
    before = machine()
    outcomes = [run_one(name, modules[name], extra.get(name, [])) for name in names]
    after = machine()
    print(f"\n{table(outcomes)}\n\nmachine before: {before}\nmachine after:  {after}")
    if results is not None:
        results.write_text(report(outcomes, command, before, after), encoding="utf-8")
        print(f"written to {results}")
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, run the chosen benches; exit status 1 when any of them failed."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    modules = discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                     epilog=f"bench modules: {', '.join(modules)}")
    parser.add_argument("names", nargs="*", metavar="NAME", help="benches to run (default: all)")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME", help="leave this bench out")
    parser.add_argument("--args", action="append", default=[], metavar='NAME="ARGS"',
                        help="arguments for one bench's main, e.g. overhead=\"--drafts 50\"")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"report path (default {RESULTS.name})")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--list", action="store_true", help="list the bench modules and stop")
    args = parser.parse_args(args_list)
    if args.list:
        for name, module in modules.items():
            print(f"{name:14} {(module.__doc__ or '').strip().splitlines()[0] if module.__doc__ else ''}")
        return 0
    unknown = sorted((set(args.names) | set(args.skip)) - set(modules))
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(modules)}")
    extra: dict[str, list[str]] = {}
    for item in args.args:
        name, sep, words = item.partition("=")
        if not sep or name not in modules:
            parser.error(f"--args wants NAME=\"ARGS\" with NAME one of {', '.join(modules)}; got {item!r}")
        extra[name] = shlex.split(words)
    names = [n for n in (args.names or list(modules)) if n not in set(args.skip)]
    command = " ".join(["python -m bench", *map(shlex.quote, args_list)])
    outcomes = run(modules, names, extra, None if args.no_write else args.results, command)
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
