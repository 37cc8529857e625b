"""Template-set validation and the sandbox's limits: admins' mistakes and hostile templates fail clearly."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from drafter.errors import TemplateError
from drafter.prompting import PromptRenderer, TemplateSet

MANIFEST: dict[str, Any] = {
    "name": "t", "version": 1, "templates": {"chat": {"system": "s.j2"}},
    "variables": {"who": {"type": "string"}},
}


def build(sources: dict[str, str], **manifest: Any) -> TemplateSet:
    files = {"manifest.yaml": yaml.safe_dump(MANIFEST | manifest), **sources}
    return TemplateSet.from_files(files, origin="test")


@pytest.mark.parametrize(
    ("sources", "manifest", "error"),
    [
        ({"s.j2": "{{ who }} {{ stranger }}"}, {}, "does not declare: stranger"),
        ({"s.j2": "static"}, {}, "no template uses: who"),
        ({"s.j2": "{{ who }"}, {}, "s.j2 line 1"),
        ({"s.j2": "{{ who }}{% include 'gone.j2' %}"}, {}, "includes gone.j2"),
        ({"s.j2": "{{ who }}"}, {"templates": {"chat": {"system": "nope.j2"}}}, "names nope.j2"),
        ({"s.j2": "{{ who }}"}, {"templates": {}}, "names no chat or completion"),
        ({"s.j2": "{{ who }}"}, {"name": "Bad Name!"}, "name"),
        ({"s.j2": "{{ who }}"}, {"surprise": 1}, "surprise"),
        ({"s.j2": "{{ who }}", "partials/categories/general.j2": "g"}, {"categories": ["general", "billing"]},
         "no partial for categories billing"),
    ],
)
def test_invalid_sets_are_refused_with_the_reason(sources: dict[str, str], manifest: dict[str, Any],
                                                  error: str) -> None:
    with pytest.raises(TemplateError) as info:
        build(sources, **manifest)
    assert error in info.value.message


def test_exemplars_are_validated() -> None:
    bad = yaml.safe_dump([{"category": "symptom", "language": "fr", "message": "m", "reply": "r"}])
    files = {"manifest.yaml": yaml.safe_dump(MANIFEST | {"exemplars": {"file": "ex.yaml"}, "categories": ["symptom"]}),
             "s.j2": "{{ who }}{{ exemplars }}", "ex.yaml": bad}
    files["manifest.yaml"] = yaml.safe_dump(MANIFEST | {"exemplars": {"file": "ex.yaml"}, "categories": ["symptom"],
                                                        "variables": {"who": {"type": "string"},
                                                                      "exemplars": {"type": "list"}}})
    with pytest.raises(TemplateError) as info:
        TemplateSet.from_files(files)
    assert "language 'fr'" in info.value.message


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10000000 }}",
        "{{ ['x'] * 10000000 }}",
        "{{ 10 ** 100000 }}",
        "{% for i in range(1000000000) %}x{% endfor %}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}{% endfor %}"
        "{% endfor %}{% endfor %}",
        "{% for i in range(10000) %}{{ 'y' * 50 }}{% endfor %}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ who.__class__.__init__.__globals__ }}",
        "{{ (who|attr('__class__')).__mro__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{% set x = [] %}{{ x.append(1) }}",
    ],
)
def test_hostile_templates_end_in_a_clear_error_quickly(template: str) -> None:
    import time

    renderer = PromptRenderer(build({"s.j2": "{{ who }}" + template}))
    started = time.monotonic()
    with pytest.raises(TemplateError) as info:
        renderer.render({"who": "me"}, mode="chat", max_tokens=10, temperature=0)
    assert time.monotonic() - started < 5
    assert "s.j2" in info.value.message


def test_a_render_slowed_by_a_busy_machine_is_not_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit counts the render's CPU: wall time lost to other work (here: every clock read 2 s later) is not
    the template's doing."""
    import itertools

    from drafter import prompting

    clock = itertools.count(start=1000.0, step=2.0)
    monkeypatch.setattr(prompting.time, "monotonic", lambda: next(clock))
    renderer = PromptRenderer(build({"s.j2": "{% for i in range(3000) %}{{ who }}{% endfor %}"}))
    request = renderer.render({"who": "a"}, mode="chat", max_tokens=10, temperature=0)
    assert request.messages[0].content == "a" * 3000
