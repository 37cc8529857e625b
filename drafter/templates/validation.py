"""Validation of a template set before it can be saved as publishable: every problem at once, each with its
template, line and column, then every sample context rendered in the sandbox in a separate, limited process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import jinja2
import yaml
from jinja2 import nodes
from jinja2.parser import Parser
from pydantic import ValidationError

from drafter.prompting import Exemplar, Manifest, _environment

MAX_FILES = 200
MAX_FILE_CHARS = 200_000
MAX_TOTAL_CHARS = 2_000_000
FILE_NAME = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*\.(j2|yaml)$")


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem (or warning) with where it is: template file, 1-based line and column when known."""

    code: str
    message: str
    template: str | None = None
    line: int | None = None
    column: int | None = None
    severity: Literal["error", "warning"] = "error"

    def where(self) -> str:
        """`file:line:column` as far as known."""
        parts = [self.template or "set", *(str(p) for p in (self.line, self.column) if p is not None)]
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class SampleRender:
    """The outcome of rendering one sample context in one mode."""

    sample: str
    mode: str
    ok: bool
    chars: int = 0
    ms: float = 0.0
    issue: Issue | None = None


@dataclass
class ValidationReport:
    issues: list[Issue] = field(default_factory=list)
    renders: list[SampleRender] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues) and all(r.ok for r in self.renders)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"] + [r.issue for r in self.renders
                                                                     if r.issue is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with the version and returned by the API."""
        return {"ok": self.ok, "issues": [asdict(i) for i in self.issues],
                "renders": [asdict(r) for r in self.renders]}


def _column(source: str, line: int, needle: str, *, after: int = 0) -> int | None:
    lines = source.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return None
    if not needle:
        return len(lines[line - 1]) + 1
    found = lines[line - 1].find(needle, after)
    return found + 1 if found >= 0 else None


def syntax_issue(name: str, source: str, env: jinja2.Environment) -> Issue | None:
    """Parse one template; on a syntax error, the message with its line and (best effort) column."""
    parser = Parser(env, source, name)
    try:
        parser.parse()
    except jinja2.TemplateSyntaxError as exc:
        line = exc.lineno or 1
        column: int | None = None
        if (at := re.search(r" at (\d+)$", exc.message or "")) is not None:  # lexer errors give an offset
            offset = int(at.group(1))
            line = source.count("\n", 0, offset) + 1
            column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        else:
            current = getattr(getattr(parser, "stream", None), "current", None)
            if current is not None and current.type == "eof":
                line = len(source.splitlines()) or 1
                column = _column(source, line, "")
            elif current is not None and current.lineno == line:
                column = _column(source, line, str(current.value))
                unexpected = re.match(r"unexpected '(.)'", exc.message or "")
                if unexpected and column is not None:  # the lexer stopped after the token the parser last saw
                    column = _column(source, line, unexpected.group(1), after=column) or column
        return Issue("syntax_error", f"{name} line {line}: {exc.message}", name, line, column)
    except RecursionError:
        return Issue("syntax_error", f"{name}: the template nests too deeply to parse.", name)
    return None


def _yaml_issue(name: str, text: str) -> tuple[Any, Issue | None]:
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        problem = getattr(exc, "problem", None) or str(exc)
        return None, Issue("yaml_error", f"{name} is not valid YAML: {problem}", name, line, column)


def _first_use(sources: Mapping[str, str], asts: Mapping[str, nodes.Template],
               variable: str) -> tuple[str | None, int | None, int | None]:
    for name, ast in asts.items():
        for node in ast.find_all(nodes.Name):
            if node.name == variable and node.ctx == "load":
                match = re.search(rf"\b{re.escape(variable)}\b", (sources[name].splitlines() or [""])[node.lineno - 1]
                                  if node.lineno <= len(sources[name].splitlines()) else "")
                return name, node.lineno, match.start() + 1 if match else None
    return None, None, None


def static_issues(files: Mapping[str, str]) -> list[Issue]:
    """Every static problem of a set: file names and sizes, manifest, exemplars, syntax, variables, includes."""
    issues: list[Issue] = []
    if len(files) > MAX_FILES:
        issues.append(Issue("too_many_files", f"The set has {len(files)} files; the limit is {MAX_FILES}."))
    if (total := sum(len(t) for t in files.values())) > MAX_TOTAL_CHARS:
        issues.append(Issue("set_too_large", f"The set has {total:,} characters; the limit is {MAX_TOTAL_CHARS:,}."))
    for name, text in files.items():
        if not FILE_NAME.match(name):
            issues.append(Issue("bad_file_name", f"{name!r} is not an allowed file name: use relative paths of "
                                "letters, digits, - and _, ending in .j2 or .yaml.", name))
        elif len(text) > MAX_FILE_CHARS:
            issues.append(Issue("file_too_large", f"{name} has {len(text):,} characters; the limit is "
                                f"{MAX_FILE_CHARS:,}.", name))
    if issues:
        return issues
    if "manifest.yaml" not in files:
        return [Issue("manifest_missing", "manifest.yaml is missing.", "manifest.yaml")]
    raw, problem = _yaml_issue("manifest.yaml", files["manifest.yaml"])
    if problem:
        return [problem]
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        return [Issue("manifest_invalid", f"manifest.yaml: {'.'.join(str(p) for p in err['loc']) or 'top level'}: "
                      f"{err['msg']}", "manifest.yaml") for err in exc.errors()]
    sources = {name: text for name, text in files.items() if name.endswith(".j2")}
    env = _environment(sources)
    asts: dict[str, nodes.Template] = {}
    for name, text in sources.items():
        if (syntax := syntax_issue(name, text, env)) is not None:
            issues.append(syntax)
        else:
            asts[name] = env.parse(text, name=name)
    issues.extend(_reference_issues(manifest, sources, asts))
    issues.extend(_exemplar_issues(manifest, files))
    # With a syntax error some templates were not parsed: what they use is unknown, so "never used" would lie.
    complete = not any(i.code == "syntax_error" for i in issues)
    issues.extend(_variable_issues(manifest, files["manifest.yaml"], sources, asts, check_unused=complete))
    return issues


def _reference_issues(manifest: Manifest, sources: Mapping[str, str],
                      asts: Mapping[str, nodes.Template]) -> list[Issue]:
    issues: list[Issue] = []
    entry_points = [str(f) for f in manifest.templates.get("chat", {}).values()]
    if manifest.templates.get("completion", {}).get("prompt"):
        entry_points.append(str(manifest.templates["completion"]["prompt"]))
    if not entry_points:
        issues.append(Issue("no_templates", "manifest.yaml names no chat or completion templates.", "manifest.yaml"))
    for file in entry_points:
        if file not in sources:
            issues.append(Issue("missing_template", f"manifest.yaml names {file}, which is not in the set.",
                                "manifest.yaml"))
    for name, ast in asts.items():
        for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            target = getattr(node, "template", None)
            if isinstance(target, nodes.Const) and target.value not in sources:
                issues.append(Issue("missing_include", f"{name} line {node.lineno} refers to {target.value!r}, "
                                    "which is not in the set (only the set's own files can be included).",
                                    name, node.lineno, _column(sources[name], node.lineno, str(target.value))))
    if any(f.startswith("partials/categories/") for f in sources):
        missing = [c for c in manifest.categories if f"partials/categories/{c}.j2" not in sources]
        if missing:
            issues.append(Issue("missing_partial", f"No partial for categories {', '.join(missing)} (expected "
                                "partials/categories/<category>.j2)."))
    return issues


def _exemplar_issues(manifest: Manifest, files: Mapping[str, str]) -> list[Issue]:
    if not manifest.exemplars:
        return []
    name = manifest.exemplars.file
    if name not in files:
        return [Issue("missing_exemplars", f"manifest.yaml names exemplars file {name}, which is not in the set.",
                      "manifest.yaml")]
    items, problem = _yaml_issue(name, files[name])
    if problem:
        return [problem]
    if not isinstance(items, list):
        return [Issue("exemplars_invalid", f"{name} must be a list of exemplars.", name)]
    issues = []
    for i, item in enumerate(items, 1):
        try:
            ex = Exemplar.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            issues.append(Issue("exemplars_invalid", f"{name} item {i}: {'.'.join(str(p) for p in err['loc'])}: "
                                f"{err['msg']}", name))
            continue
        if ex.category not in manifest.categories or ex.language not in manifest.languages:
            issues.append(Issue("exemplars_invalid", f"{name} item {i} has category {ex.category!r} / language "
                                f"{ex.language!r}, not listed in the manifest.", name))
    return issues


def _variable_issues(manifest: Manifest, manifest_text: str, sources: Mapping[str, str],
                     asts: Mapping[str, nodes.Template], *, check_unused: bool) -> list[Issue]:
    from jinja2 import meta

    issues = []
    used: set[str] = set()
    for ast in asts.values():
        used |= meta.find_undeclared_variables(ast)
    for variable in sorted(used - set(manifest.variables)):
        template, line, column = _first_use(sources, asts, variable)
        issues.append(Issue("undeclared_variable", f"{template or 'a template'} line {line} uses {variable!r}, "
                            "which the manifest does not declare (add it under variables, or remove it).",
                            template, line, column))
    for variable in sorted({n for n, spec in manifest.variables.items() if spec.required and check_unused} - used):
        declared = re.search(rf"^(\s*){re.escape(variable)}\s*:", manifest_text, re.MULTILINE)
        line = manifest_text.count("\n", 0, declared.start()) + 1 if declared else None
        issues.append(Issue("unused_required_variable", f"The manifest requires {variable!r} but no template uses "
                            "it (use it, or mark it required: false).", "manifest.yaml", line,
                            len(declared.group(1)) + 1 if declared else None))
    return issues
