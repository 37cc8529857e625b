"""Validation names every problem with its template, line and column, and renders every sample context."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from drafter.templates.validation import static_issues

MANIFEST: dict[str, Any] = {"name": "t", "version": 1, "templates": {"chat": {"system": "s.j2", "user": "u.j2"}},
                            "variables": {"who": {"type": "string"}, "extra": {"type": "string", "required": False}}}


def files(system: str, user: str = "{{ who }}", **manifest: Any) -> dict[str, str]:
    return {"manifest.yaml": yaml.safe_dump(MANIFEST | manifest, sort_keys=False), "s.j2": system, "u.j2": user}


@pytest.mark.parametrize(
    ("system", "code", "line", "column", "words"),
    [
        ("Hello {{ who }", "syntax_error", 1, 14, "unexpected '}'"),
        ("line one\n  {{ who bar }}", "syntax_error", 2, 10, "expected token 'end of print statement'"),
        ("a\n{% if who %}b", "syntax_error", 2, 14, "Unexpected end of template"),
        ("{{ 'open }}", "syntax_error", 1, 4, "unexpected char"),
        ("{% endif %}", "syntax_error", 1, 4, "unknown tag 'endif'"),
        ("ok\n\n  {{ strangers }}", "undeclared_variable", 3, 6, "'strangers'"),
        ("{% include 'other.j2' %}", "missing_include", 1, 13, "'other.j2'"),
        ("{% include '/etc/passwd' %}", "missing_include", 1, 13, "only the set's own files"),
        ("{% from '../../drafter/settings.py' import x %}", "missing_include", 1, 10, "not in the set"),
    ],
)
def test_problems_carry_template_line_and_column(system: str, code: str, line: int, column: int,
                                                 words: str) -> None:
    issues = [i for i in static_issues(files(system)) if i.code == code]
    assert len(issues) == 1, static_issues(files(system))
    issue = issues[0]
    assert (issue.template, issue.line, issue.column) == ("s.j2", line, column)
    assert words in issue.message


def test_required_variable_never_used_points_at_its_declaration() -> None:
    issue = next(i for i in static_issues(files("static", "static")) if i.code == "unused_required_variable")
    assert issue.template == "manifest.yaml" and "'who'" in issue.message
    text = files("static")["manifest.yaml"].splitlines()
    assert issue.line is not None and text[issue.line - 1].strip().startswith("who:")


def test_every_problem_is_reported_at_once() -> None:
    issues = static_issues(files("{{ who }", "{{ nobody }}{% include 'gone.j2' %}") | {"bad name.j2": "x"})
    assert [i.code for i in issues] == ["bad_file_name"]  # file names first: nothing else is trusted until then
    issues = static_issues(files("{{ who }}{{ a }}{{ b }}", "{% include 'gone.j2' %}"))
    assert {(i.code, i.template) for i in issues} == {("undeclared_variable", "s.j2"),
                                                      ("missing_include", "u.j2")}
    assert len([i for i in issues if i.code == "undeclared_variable"]) == 2


@pytest.mark.parametrize(
    ("manifest_text", "line"),
    [("name: t\nversion: 1\ntemplates: {chat: {system: s.j2}\n", 4), ("name: [unclosed\n", 2)],
)
def test_broken_manifest_yaml_has_a_line(manifest_text: str, line: int) -> None:
    issues = static_issues({"manifest.yaml": manifest_text, "s.j2": "x"})
    assert [(i.code, i.template, i.line) for i in issues] == [("yaml_error", "manifest.yaml", line)]


@pytest.mark.parametrize(
    ("name", "text", "code"),
    [("../escape.j2", "x", "bad_file_name"), ("/abs.j2", "x", "bad_file_name"), ("run.py", "x", "bad_file_name"),
     ("big.j2", "x" * 200_001, "file_too_large")],
)
def test_file_names_and_sizes_are_bounded(name: str, text: str, code: str) -> None:
    assert [i.code for i in static_issues(files("{{ who }}") | {name: text})] == [code]
