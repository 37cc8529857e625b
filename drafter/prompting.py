"""Prompt template sets: a folder of Jinja templates + manifest + exemplars, validated and rendered safely.

Admins edit these files, so rendering happens in an immutable sandbox with StrictUndefined, a cap on
output size and a deadline (loops over `range` and long outputs both stop), and patient-supplied text
is neutralised so it can never close or open a prompt block.
"""

from __future__ import annotations

import contextvars
import operator
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drafter.errors import TemplateError
from drafter.llm.base import ChatMessage, LLMRequest, PromptMode

MAX_OUTPUT_CHARS = 100_000
MAX_RENDER_SECONDS = 1.0
MAX_RANGE = 10_000

# Tags and chat tokens that would let patient text pose as a boundary of the prompt.
_DELIMITER = re.compile(
    r"<\s*/?\s*(?:patient_message|chart_context|example_message|example_reply|system|assistant|user)\s*>"
    r"|<\|[^|>]{0,40}\|?>|<(?:start|end)_of_turn>|^\s*###",
    re.IGNORECASE | re.MULTILINE,
)


def neutralise(text: str) -> str:
    """Defuse delimiter collisions in patient-supplied text so it cannot close or open a prompt block."""
    return _DELIMITER.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›").replace("#", "＃"), text)


def _neutralise_tree(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, Mapping):
        return {k: _neutralise_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_neutralise_tree(v) for v in value]
    return value


class Exemplar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str
    language: str
    message: str = Field(min_length=1, max_length=2_000)
    reply: str = Field(min_length=1, max_length=2_000)


class VariableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["string", "object", "list", "integer", "boolean"]
    required: bool = True
    fields: list[str] = Field(default_factory=list)
    values: list[str] = Field(default_factory=list)


class ExemplarSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    per_prompt: int = Field(default=2, ge=0, le=10)
    completion_per_prompt: int = Field(default=3, ge=0, le=10)


class Manifest(BaseModel):
    """The manifest.yaml of a template set."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    version: int | str
    description: str = ""
    templates: dict[Literal["chat", "completion"], dict[str, Any]]
    exemplars: ExemplarSpec | None = None
    categories: list[str] = Field(default_factory=lambda: ["general"])
    languages: list[str] = Field(default_factory=lambda: ["en"])
    variables: dict[str, VariableSpec] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """One named, versioned set of prompt templates with its manifest and exemplars."""

    manifest: Manifest
    sources: Mapping[str, str]  # relative path (posix) -> template text
    exemplars: tuple[Exemplar, ...] = ()

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return str(self.manifest.version)

    @property
    def label(self) -> str:
        """name@version, as stored with each draft."""
        return f"{self.name}@{self.version}"

    @property
    def chat(self) -> Mapping[str, str]:
        return {role: str(file) for role, file in self.manifest.templates.get("chat", {}).items()}

    @property
    def completion(self) -> Mapping[str, Any]:
        return self.manifest.templates.get("completion", {})

    @classmethod
    def from_dir(cls, directory: Path) -> TemplateSet:
        """Load and validate a set from a folder holding manifest.yaml, templates (*.j2) and exemplars."""
        manifest_path = directory / "manifest.yaml"
        if not manifest_path.is_file():
            raise TemplateError(f"No template set at {directory}: manifest.yaml is missing; "
                                "check DRAFTER_PROMPTS_DIR and DRAFTER_TEMPLATE_SET.")
        sources = {p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
                   for p in sorted(directory.rglob("*.j2"))}
        files = {p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
                 for p in sorted(directory.rglob("*.yaml"))}
        return cls.from_files(files | sources, origin=str(directory))

    @classmethod
    def from_files(cls, files: Mapping[str, str], *, origin: str = "template set") -> TemplateSet:
        """Build a set from file name -> text (from a folder, or later from a database version)."""
        raw = _yaml(files, "manifest.yaml", origin)
        try:
            manifest = Manifest.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise TemplateError(f"{origin}/manifest.yaml: {where}: {first['msg']}") from None
        exemplars: tuple[Exemplar, ...] = ()
        if manifest.exemplars:
            items = _yaml(files, manifest.exemplars.file, origin) or []
            try:
                exemplars = tuple(Exemplar.model_validate(item) for item in items)
            except (ValidationError, TypeError) as exc:
                raise TemplateError(f"{origin}/{manifest.exemplars.file}: invalid exemplar: {exc}") from None
        sources = {name: text for name, text in files.items() if name.endswith(".j2")}
        template_set = cls(manifest, sources, exemplars)
        template_set.validate(origin=origin)
        return template_set

    def validate(self, *, origin: str = "template set") -> None:
        """Static checks: files exist, syntax, declared vs used variables, category partials, exemplars."""
        env = _environment(self.sources)
        entry_points = [*self.chat.values()]
        if self.completion.get("prompt"):
            entry_points.append(str(self.completion["prompt"]))
        if not entry_points:
            raise TemplateError(f"{origin}/manifest.yaml names no chat or completion templates.")
        for file in entry_points:
            if file not in self.sources:
                raise TemplateError(f"{origin}/manifest.yaml names {file}, which is not in the set.")
        used: set[str] = set()
        for name, text in self.sources.items():
            try:
                ast = env.parse(text, name=name)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(f"{origin}/{name} line {exc.lineno}: {exc.message}",
                                    details={"template": name, "line": exc.lineno}) from None
            used |= meta.find_undeclared_variables(ast)
            for include in ast.find_all(nodes.Include):
                target = include.template
                if isinstance(target, nodes.Const) and target.value not in self.sources:
                    raise TemplateError(f"{origin}/{name} includes {target.value}, which is not in the set.")
        declared = set(self.manifest.variables)
        if undeclared := used - declared:
            raise TemplateError(f"{origin}: templates use variables the manifest does not declare: "
                                f"{', '.join(sorted(undeclared))}")
        if unused := {n for n, spec in self.manifest.variables.items() if spec.required} - used:
            raise TemplateError(f"{origin}: required variables no template uses: {', '.join(sorted(unused))}")
        if any(f.startswith("partials/categories/") for f in self.sources):
            missing = [c for c in self.manifest.categories if f"partials/categories/{c}.j2" not in self.sources]
            if missing:
                raise TemplateError(f"{origin}: no partial for categories {', '.join(missing)} "
                                    "(expected partials/categories/<category>.j2).")
        for ex in self.exemplars:
            if ex.category not in self.manifest.categories or ex.language not in self.manifest.languages:
                raise TemplateError(f"{origin}: exemplar {ex.message[:30]!r} has category {ex.category!r} / "
                                    f"language {ex.language!r} not listed in the manifest.")

    def pick_exemplars(self, category: str, language: str, count: int) -> list[Exemplar]:
        """Stable exemplars of the language first, the category's own exemplar last.

        The order matters for speed: every message of a language shares the same leading exemplars, so the
        model server's prefix cache (llama.cpp, vLLM, OpenAI) reuses them and only the tail is new.
        """
        if count <= 0:
            return []
        pool = [ex for ex in self.exemplars if ex.language == language] or \
            [ex for ex in self.exemplars if ex.language == "en"]
        ordered = sorted(pool, key=lambda ex: ex.category != "general")  # stable sort keeps the file's order
        prefix = ordered[:count - 1]
        own = next((ex for ex in pool if ex.category == category), None)
        if own is not None and own not in prefix:
            return [*prefix, own]
        return ordered[:count]


def _yaml(files: Mapping[str, str], name: str, origin: str) -> Any:
    if name not in files:
        raise TemplateError(f"{origin}: {name} is missing.")
    try:
        return yaml.safe_load(files[name])
    except yaml.YAMLError as exc:
        raise TemplateError(f"{origin}/{name} is not valid YAML: {exc}") from None


# -- the sandbox ---------------------------------------------------------------------------------

# (monotonic, thread CPU) times at which a render has had MAX_RENDER_SECONDS. A render is stopped when it has used that
# much CPU, not wall time: a busy machine (other requests, a full collection) must not fail a correct template, and
# a sandboxed template cannot wait on anything. The monotonic clock is the cheap first test (40 ns against 440).
_deadline: contextvars.ContextVar[tuple[float, float]] = contextvars.ContextVar(
    "render_deadline", default=(float("inf"), float("inf")))


class RenderLimitError(Exception):
    """A render took too long or produced too much."""


def _check_deadline() -> None:
    wall, cpu = _deadline.get()
    if time.monotonic() > wall and time.thread_time() > cpu:
        raise RenderLimitError(f"rendering took longer than {MAX_RENDER_SECONDS:.1f} s of CPU")


def _bounded_range(*args: int) -> Iterator[int]:
    span = range(*args)
    if len(span) > MAX_RANGE:
        raise RenderLimitError(f"range() of {len(span):,} items is above the limit of {MAX_RANGE:,}")
    for i in span:
        if i % 256 == 0:
            _check_deadline()
        yield i


_FORMAT_NUMBER = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_MAX_INT_BITS = 4_096  # integer arithmetic beyond this is never prompt material and can take minutes


MAX_RENDER_ALLOCATION = 20 * MAX_OUTPUT_CHARS  # characters all intermediate results of one render may add up to

# The characters one render may still allocate through strings, lists and calls (None outside a render).
_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("render_budget", default=None)


def _weight(value: Any, cap: int = MAX_OUTPUT_CHARS) -> int:
    """Characters `str(value)` would take, at least, counted only up to just past `cap`.

    Containers are walked (a list of one long string repeated is large even though its len() is small);
    the walk stops as soon as the total passes the cap, so it costs at most `cap` steps.
    """
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += max(1, item.bit_length() // 3)
        elif isinstance(item, Mapping):
            total += 2 + len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 1
    return total


def _check_weight(value: Any, what: str) -> Any:
    if _weight(value) > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"{what} would exceed the output limit of {MAX_OUTPUT_CHARS:,} characters")
    return value


def _check_size(value: Any, what: str) -> Any:
    """Refuse a result past the output limit, and charge it to the render's allocation budget."""
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_OUTPUT_CHARS:
        raise RenderLimitError(f"{what} would exceed the output limit of {MAX_OUTPUT_CHARS:,} characters")
    budget = _budget.get()
    if budget is not None and isinstance(value, str | list | tuple | dict):
        budget[0] -= len(value)
        if budget[0] < 0:
            raise RenderLimitError(f"the render built more than {MAX_RENDER_ALLOCATION:,} characters of "
                                   "intermediate results")
    return value


def _check_ints(args: tuple[Any, ...], kwargs: Mapping[str, Any], what: str) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"{what} was given {value:,}, above the limit of {MAX_OUTPUT_CHARS:,}")


def _check_percent_format(fmt: str, args: Any) -> None:
    """`'%0999999999d' % 1` would allocate a gigabyte before any output check could run."""
    for width, precision in _FORMAT_NUMBER.findall(fmt):
        for number in (width, precision):
            if number.isdigit() and int(number) > MAX_OUTPUT_CHARS:
                raise RenderLimitError(f"a format width of {int(number):,} is above the limit")
    values = args if isinstance(args, tuple) else (args,)
    _check_ints(tuple(values), {}, "a % format")


def _check_brace_format(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """`'{:>999999999}'.format(1)` (or a width passed as an argument) is refused before it allocates."""
    import string

    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise RenderLimitError(f"invalid format string: {exc}") from None
    for _, _, spec, _ in parsed:
        for number in re.findall(r"\d+", spec or ""):
            if int(number) > MAX_OUTPUT_CHARS:
                raise RenderLimitError(f"a format width of {int(number):,} is above the limit")
    _check_ints(args, kwargs, "format()")


def _estimate_str_method(name: str, text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """Upper bound of the result size of the str methods that can grow their input, 0 when not one of them."""
    if name in {"center", "ljust", "rjust", "zfill"}:
        return max(len(text), int(args[0])) if args and isinstance(args[0], int) else 0
    if name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        return len(text) + text.count("\t") * (size if isinstance(size, int) else 8)
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        hits = text.count(args[0]) if args[0] else len(text) + 1
        return len(text) + hits * max(0, len(args[1]) - len(args[0]))
    if name == "join" and args:
        items = list(args[0])
        if len(items) > MAX_OUTPUT_CHARS:
            return len(items)
        return sum(len(i) if isinstance(i, str) else 0 for i in items) + len(text) * max(0, len(items) - 1)
    return 0


def _guard_iterable(value: Any) -> Iterator[Any]:
    """Every for-loop iterates through this: a pure loop has no call to hook, so the deadline is checked here."""
    for i, item in enumerate(value):
        if i & 127 == 0:
            _check_deadline()
        yield item


def _guarded_filter(name: str, func: Any) -> Any:
    """Wrap a built-in filter so arguments that would grow the output past the limit are refused first."""

    def estimate(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
        text = value if isinstance(value, str) else ""
        if name == "indent":
            width = args[0] if args else kwargs.get("width", 4)
            pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 4
            return len(text) + (text.count("\n") + 1) * pad
        if name == "wordwrap":
            width = args[0] if args else kwargs.get("width", 79)
            wrap = args[2] if len(args) > 2 else kwargs.get("wrapstring") or "\n"
            lines = len(text) // max(1, width if isinstance(width, int) else 79) + 1
            return len(text) + lines * (len(wrap) if isinstance(wrap, str) else 1)
        if name == "join" and value is not None:
            items = list(value)
            sep = args[0] if args and isinstance(args[0], str) else kwargs.get("d", "")
            return sum(len(str(i)) for i in items[:MAX_OUTPUT_CHARS + 1]) + len(sep) * max(0, len(items) - 1)
        if name == "format" and isinstance(value, str):
            _check_percent_format(value, args or tuple(kwargs.values()))
        if name in {"replace", "center"} and isinstance(value, str):
            return _estimate_str_method(name, value, args, kwargs)
        return 0

    def guarded(*args: Any, **kwargs: Any) -> Any:
        # Filters may take the environment, context or eval context first; the value is the first plain argument.
        offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        value, rest = (args[offset], args[offset + 1:]) if len(args) > offset else (None, ())
        if name == "join" and value is not None and not isinstance(value, str | list | tuple):
            value = list(value)  # a generator would be used up by the estimate
            args = (*args[:offset], value, *rest)
        _check_deadline()
        _check_ints(rest, kwargs, f"the {name} filter")
        _check_weight((value, rest, tuple(kwargs.values())), f"the {name} filter")
        if estimate(value, rest, kwargs) > MAX_OUTPUT_CHARS:
            raise RenderLimitError(f"the {name} filter would exceed the output limit of {MAX_OUTPUT_CHARS:,} "
                                   "characters")
        return _check_size(func(*args, **kwargs), f"the {name} filter")

    guarded.jinja_pass_arg = getattr(func, "jinja_pass_arg", None)  # type: ignore[attr-defined]
    guarded.__name__ = getattr(func, "__name__", name)
    return guarded


class _LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus caps on output size and render time that hold for any template.

    Hooks: arithmetic (`*`, `**`, `+`, `%`), every call, attribute and item access, every filter, and every
    for-loop iteration and `~` concatenation (the parsed tree is rewritten so they pass through a guard). A
    loop with no call inside still meets the deadline, and nothing can allocate far past the output limit.
    """

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals.pop("lipsum", None)  # generates text at will; no prompt needs it
        self.filters = {name: _guarded_filter(name, func) for name, func in self.filters.items()}
        self.filters["_guard_iterable"] = _guard_iterable
        self.filters["_guard_size"] = lambda value: _check_size(value, "a ~ concatenation")
        self.filters["_guard_operand"] = lambda value: _check_weight(value, "a ~ concatenation")
        # Every {{ ... }} passes through finalize before it becomes text: a container is weighed first.
        self.finalize = lambda value: _check_weight(value, "an output")

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_guard_iterable", [], [], None, None, lineno=loop.lineno)
        for concat in list(tree.find_all(nodes.Concat)):
            concat.nodes = [nodes.Filter(n, "_guard_operand", [], [], None, None, lineno=n.lineno)
                            for n in concat.nodes]
            _wrap_in_place(tree, concat)
        return tree

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        _check_deadline()
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise RenderLimitError("exponent too large")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() * max(right, 0) > _MAX_INT_BITS:
                raise RenderLimitError("the power is too large")
            return operator.pow(left, right)
        if operator_ == "%":
            if isinstance(left, str):
                _check_percent_format(left, right)
                _check_weight(right, "a % format")
                return _check_size(operator.mod(left, right), "a % format")
            return operator.mod(left, right)
        if operator_ == "+":
            _check_weight((left, right), "a + concatenation")
            return _check_size(operator.add(left, right), "a + concatenation")
        if isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
            times = right if isinstance(right, int) else left if isinstance(left, int) else 1
            size = _weight(left if isinstance(left, str | list | tuple) else right)
            if isinstance(times, int) and times * size > MAX_OUTPUT_CHARS:
                raise RenderLimitError("repetition would exceed the output limit")
            return _check_size(operator.mul(left, right), "a repetition")
        if (isinstance(left, int) and isinstance(right, int)
                and left.bit_length() + right.bit_length() > _MAX_INT_BITS):
            raise RenderLimitError("the product is too large")
        return operator.mul(left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_deadline()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        _check_weight((args, tuple(kwargs.values())), "a call's arguments")
        target = getattr(__obj, "__wrapped__", __obj)  # str.format is wrapped by the sandbox
        owner = getattr(target, "__self__", None)
        name = getattr(target, "__name__", "")
        if isinstance(owner, str):
            if name in {"format", "format_map"}:
                _check_brace_format(owner, args, kwargs if name == "format" else {})
            _check_ints(args, kwargs, f"str.{name}()")
            if _estimate_str_method(name, owner, args, kwargs) > MAX_OUTPUT_CHARS:
                raise RenderLimitError(f"str.{name}() would exceed the output limit of {MAX_OUTPUT_CHARS:,} "
                                       "characters")
        return _check_size(super().call(__context, __obj, *args, **kwargs), "a call result")


def _environment(sources: Mapping[str, str]) -> _LimitedSandbox:
    def load(name: str) -> tuple[str, str, Any] | None:
        # The name doubles as the "filename" so error frames point at the template and its line.
        return (sources[name], name, lambda: True) if name in sources else None

    env = _LimitedSandbox(loader=jinja2.FunctionLoader(load), undefined=jinja2.StrictUndefined,
                          autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)
    env.globals["range"] = _bounded_range
    return env


def _wrap_in_place(tree: nodes.Node, target: nodes.Concat) -> None:
    """Replace `target` inside its parent by `target|_guard_size` (Concat has no hook of its own)."""
    for parent in tree.find_all(nodes.Node):
        for field_name, value in parent.iter_fields():
            if value is target:
                setattr(parent, field_name, nodes.Filter(target, "_guard_size", [], [], None, None,
                                                         lineno=target.lineno))
                return
            if isinstance(value, list) and any(item is target for item in value):
                setattr(parent, field_name, [nodes.Filter(item, "_guard_size", [], [], None, None, lineno=item.lineno)
                                             if item is target else item for item in value])
                return


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line of an exception (Jinja rewrites frames to template lines)."""
    found: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


@dataclass
class PromptRenderer:
    """Renders a template set into the exact LLMRequest the model will receive."""

    template_set: TemplateSet
    _env: _LimitedSandbox = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._env = _environment(self.template_set.sources)

    def _render(self, file: str, variables: Mapping[str, Any]) -> str:
        label = f"{self.template_set.label}/{file}"
        token = _deadline.set((time.monotonic() + MAX_RENDER_SECONDS, time.thread_time() + MAX_RENDER_SECONDS))
        budget_token = _budget.set([MAX_RENDER_ALLOCATION])
        try:
            parts: list[str] = []
            size = 0
            for chunk in self._env.get_template(file).generate(variables):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise RenderLimitError(f"output is larger than {MAX_OUTPUT_CHARS:,} characters")
                _check_deadline()
                parts.append(chunk)
            return re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip()
        except jinja2.UndefinedError as exc:
            where, line = _template_frame(exc)
            raise TemplateError(f"Template {self.template_set.label}/{where or file}"
                                f"{f' line {line}' if line else ''} uses an undefined variable: {exc.message}",
                                details={"template": where or file, "line": line}) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"Template {label} line {exc.lineno}: {exc.message}",
                                details={"template": file, "line": exc.lineno}) from None
        except RenderLimitError as exc:
            raise TemplateError(f"Template {label} was stopped: {exc}.", details={"template": file}) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"Template {label} failed to render: {exc}", details={"template": file}) from None
        except RecursionError:
            raise TemplateError(f"Template {label} was stopped: it recursed too deeply (a macro calling itself?).",
                                details={"template": file}) from None
        except MemoryError:
            raise TemplateError(f"Template {label} was stopped: it ran out of memory.",
                                details={"template": file}) from None
        except Exception as exc:  # a template can raise anything (ZeroDivisionError, TypeError...): fail clearly
            where, line = _template_frame(exc)
            raise TemplateError(f"Template {self.template_set.label}/{where or file}{f' line {line}' if line else ''}"
                                f" failed to render: {type(exc).__name__}: {exc}"[:600],
                                details={"template": where or file, "line": line}) from None
        finally:
            _deadline.reset(token)
            _budget.reset(budget_token)

    def render(self, variables: Mapping[str, Any], *, mode: PromptMode, max_tokens: int,
               temperature: float) -> LLMRequest:
        """The exact request that would be sent to the model for these variables."""
        spec = self.template_set.manifest.exemplars
        count = (spec.per_prompt if mode == "chat" else spec.completion_per_prompt) if spec else 0
        exemplars = self.template_set.pick_exemplars(str(variables.get("category", "general")),
                                                     str(variables.get("language", "en")), count)
        safe = _neutralise_tree(variables) | {"exemplars": [ex.model_dump() for ex in exemplars]}
        if mode == "chat":
            if not self.template_set.chat:
                raise TemplateError(f"Template set {self.template_set.label} has no chat templates.")
            messages = tuple(ChatMessage(role, self._render(file, safe))  # type: ignore[arg-type]
                             for role, file in self.template_set.chat.items())
            return LLMRequest(mode="chat", messages=messages, max_tokens=max_tokens, temperature=temperature)
        completion = self.template_set.completion
        if not completion.get("prompt"):
            raise TemplateError(f"Template set {self.template_set.label} has no completion template.")
        return LLMRequest(mode="completion", prompt=self._render(str(completion["prompt"]), safe),
                          stop=tuple(completion.get("stop") or ()), max_tokens=max_tokens, temperature=temperature)
