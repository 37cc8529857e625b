"""Server-side template injection corpus: every payload ends in a clear error naming the template, or in a
bounded, harmless render — never an escape from the sandbox, a hang or a memory blow-up.

Each payload runs in the production renderer (in-process: the sandbox's hooks alone must hold, with time and
traced memory measured) and a sample of them through the admin validation path (static checks, then the
render in a child process with an address-space cap).
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest
import yaml

from drafter.errors import TemplateError
from drafter.prompting import MAX_OUTPUT_CHARS, PromptRenderer, TemplateSet
from drafter.templates.isolation import render_isolated
from drafter.templates.samples import RenderContext

MANIFEST: dict[str, Any] = {"name": "t", "version": 1, "templates": {"chat": {"system": "s.j2"}},
                            "variables": {"who": {"type": "string"}}}

BIG = "{% set s = 'x' * 99999 %}"
CORPUS: dict[str, str] = {
    # attribute walks towards Python internals
    "mro_walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "base_walk": "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "init_globals": "{{ who.__init__.__globals__ }}",
    "self_context": "{{ self._TemplateReference__context }}",
    "self_globals": "{{ self.__init__.__globals__.__builtins__ }}",
    "range_code": "{{ range.__code__.co_consts }}",
    "generator_frame": "{{ range(3).gi_frame.f_globals }}",
    "dict_mro": "{{ dict.mro()[-1].__subclasses__() }}",
    # |attr tricks
    "attr_class": "{{ who|attr('__class__')|attr('__mro__') }}",
    "attr_escaped": "{{ who|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "attr_joined": "{{ who|attr(['_', '_', 'class', '_', '_']|join) }}",
    "attr_concat": "{{ ''|attr('__cl' ~ 'ass__')|attr('__base__') }}",
    # the cycler / joiner / namespace globals
    "cycler_os": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner_globals": "{{ joiner.__init__.__globals__ }}",
    "namespace_globals": "{{ namespace.__init__.__globals__ }}",
    "namespace_harmless": "{% set ns = namespace(a=2) %}{% set ns.a = ns.a * 21 %}{{ ns.a }}",
    "cycler_harmless": "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}",
    "lipsum_globals": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    # loops
    "range_billion": "{% for i in range(10**9) %}{% endfor %}",
    "nested_ranges": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "pure_nested_loop": BIG + "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "loop_output": "{% for i in range(10000) %}{{ 'y' * 50 }}{% endfor %}",
    # huge strings and numbers
    "string_multiply": "{{ 'x' * 10**9 }}",
    "list_multiply": "{{ ['x'] * 10**9 }}",
    "list_of_big_strings": BIG + "{{ [s] * 99999 }}",
    "center_method": "{{ 'x'.center(10**9) }}",
    "center_filter": "{{ 'x'|center(999999999) }}",
    "percent_width": "{{ '%0999999999d' % 1 }}",
    "format_width": "{{ '{:>999999999}'.format(1) }}",
    "format_nested_width": "{{ '{:>{}}'.format(1, 999999999) }}",
    "format_filter_width": "{{ '%999999999s'|format('x') }}",
    "concat_doubling": BIG + "{% set b = s ~ s %}{% set c = b ~ b %}{% set d = c ~ c %}{{ d ~ d }}",
    "plus_doubling": BIG + "{% set b = s + s %}{% set c = b + b %}{{ c + c }}",
    "replace_empty": BIG + "{{ s.replace('', s) }}",
    "join_big": BIG + "{{ (range(9999)|map('string')|map('center', 99999)|list)|join }}",
    "indent_amplify": BIG + "{{ (s|wordwrap(1))|indent(99999) }}",
    "fromkeys_print": BIG + "{{ dict.fromkeys(range(9999), s) }}",
    "fromkeys_concat": BIG + "{{ dict.fromkeys(range(9999), s) ~ '' }}",
    "batch_fill": "{{ [1]|batch(999999999, 'x')|list }}",
    "power_tower": "{{ 9 ** 9 ** 9 }}",
    "repeated_squaring": "{% set n = 2 ** 64 %}{% set n = n * n %}{% set n = n * n %}{% set n = n * n %}"
                         "{% set n = n * n %}{% set n = n * n %}{% set n = n * n %}{% set n = n * n %}{{ n * n }}",
    # recursion via macros
    "macro_recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "macro_exponential": "{% macro f(n) %}{% if n < 60 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}"
                         "{{ f(0) }}",
    "recursive_loop": "{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}",
    # includes of arbitrary paths
    "include_passwd": "{% include '/etc/passwd' %}",
    "include_traversal": "{% include '../../../../etc/passwd' %}",
    "include_dynamic": "{% include who %}",
    "import_os": "{% import 'os' as os %}{{ os }}",
    "extends_settings": "{% extends 'drafter/settings.py' %}",
    # format-string tricks
    "format_attr": "{{ '{0.__class__.__mro__}'.format(who) }}",
    "format_globals": "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "format_map_attr": "{{ '{x.__class__}'.format_map({'x': who}) }}",
    "percent_class": "{{ '%s' % who.__class__ }}",
    # mutation of the immutable sandbox and plain runtime errors
    "list_append": "{% set x = [] %}{{ x.append(1) }}",
    "dict_update": "{% set d = {} %}{{ d.update({'a': 1}) }}",
    "zero_division": "{{ 1 / 0 }}",
}
# Markers that only an escape (or a leak of internals) would put into the output.
ESCAPE_MARKERS = ("<class", "<built-in", "<function", "<module", "uid=", "root:", "__builtins__", "Popen",
                  "drafter.settings", "<frame", "<code")


def build(template: str) -> TemplateSet:
    return TemplateSet.from_files({"manifest.yaml": yaml.safe_dump(MANIFEST), "s.j2": "{{ who }}" + template},
                                  origin="t")


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_payload_fails_clearly_or_renders_harmlessly_in_process(name: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    error: TemplateError | None = None
    rendered: str | None = None
    try:
        rendered = PromptRenderer(build(CORPUS[name])).render({"who": "me"}, mode="chat", max_tokens=10,
                                                              temperature=0).messages[0].content
    except TemplateError as exc:
        error = exc
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < 5, f"{name} took {elapsed:.1f} s"
    assert peak < 64 * 1024 * 1024, f"{name} allocated {peak / 1e6:.0f} MB"
    if error is not None:  # a clear error names the template (or the set, for static refusals)
        assert "s.j2" in error.message or "t:" in error.message or "t/" in error.message, error.message
        assert "Traceback" not in error.message
    if rendered is not None:
        assert len(rendered) <= MAX_OUTPUT_CHARS
        assert not any(marker in rendered for marker in ESCAPE_MARKERS), rendered[:300]


@pytest.mark.parametrize(("name", "expected"), [("namespace_harmless", "me42"), ("cycler_harmless", "meab")])
def test_harmless_globals_still_work(name: str, expected: str) -> None:
    rendered = PromptRenderer(build(CORPUS[name])).render({"who": "me"}, mode="chat", max_tokens=10, temperature=0)
    assert rendered.messages[0].content == expected


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["pure_nested_loop", "join_big", "macro_recursion", "fromkeys_print", "mro_walk"])
async def test_payload_in_the_isolated_validation_render(name: str) -> None:
    files = {"manifest.yaml": yaml.safe_dump(MANIFEST), "s.j2": "{{ who }}" + CORPUS[name]}
    started = time.monotonic()
    [result] = await render_isolated(files, [RenderContext("sample", "chat", {"who": "me"})], label="t@1",
                                     timeout_s=20)
    assert time.monotonic() - started < 20
    assert not result.ok
    assert result.message and "s.j2" in result.message
