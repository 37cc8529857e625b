"""The template editor in a real headless Chromium (Debian's): an admin's whole round trip on a template set.

Sign in, open the production version, break a file and see the error drawn at its line (and listed), fix it,
preview the edit against a sample (the exact messages the model would get), save a draft version, see the
side-by-side diff, run the eval gate (the scripted model answers badly to the edit, so the gate regresses),
publish with an override reason, see the production label move, roll back. The stored result is checked
through the API; axe-core must find no serious or critical violation. Screenshots: test-artifacts/browser/
(editor.png there is the README's docs/editor.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Page, expect

from drafter.identity import Role
from drafter.settings import PROJECT_ROOT, Settings
from tests.browser.conftest import LiveServer, serious_violations, serve
from tests.conftest import GOOD_REPLY
from tests.templates.conftest import MARKER, PromptAwareLLM

pytestmark = pytest.mark.browser

ADMIN = "Ada Admin"
BROKEN = " {{ oops }"  # appended to line 3 of system.j2: Jinja stops at the lone "}" (column 33)
OVERRIDE = "Trial of terse replies agreed with the clinic board."
GATE_S = 120_000  # ms: the gate drafts the eval cases twice with the scripted model


def gate_settings(tmp_path: Path) -> Settings:
    """A small, fast gate (12 cases, no latency rule: a scripted model's latency is noise), as in tests/templates."""
    rules = yaml.safe_load((PROJECT_ROOT / "evals" / "thresholds.yaml").read_text(encoding="utf-8"))["rules"]
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text(yaml.safe_dump({"rules": [r for r in rules if not r["metric"].startswith("latency")]}))
    return Settings(database_url=f"sqlite:///{tmp_path}/drafter.db", llm_base_url="http://llm.invalid/v1",
                    llm_api_key="test-key", after_hours_phone="555-0100", practice_name="Test Clinic",
                    template_gate_thresholds=thresholds, template_gate_limit=12,
                    template_gate_dir=tmp_path / "gates", eval_judge="off")


@pytest.fixture
def admin_server(tmp_path: Path) -> Iterator[LiveServer]:
    llm = PromptAwareLLM()
    llm.default = GOOD_REPLY
    with serve(gate_settings(tmp_path), llm, user=ADMIN, role=Role.ADMIN) as server:
        yield server


def sign_in(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/admin/templates")
    page.get_by_label("API token").fill(server.token)
    page.keyboard.press("Enter")


def test_an_admin_edits_previews_saves_gates_publishes_and_rolls_back(
        admin_server: LiveServer, browser: Any, artifacts: Path) -> None:
    server = admin_server
    for reply in ({"decision": "approve"}, {"decision": "reject", "reason": "Too long."}):  # outcomes to show
        draft = server.api.post("/v1/drafts", json={"message": {"text": "Can I take ibuprofen with my tea?"}}).json()
        assert server.api.post(f"/v1/drafts/{draft['id']}/review", json=reply).status_code == 200
    _, page, errors = browser

    page.goto(f"{server.url}/admin/templates")
    expect(page.get_by_label("API token")).to_be_focused()
    assert serious_violations(page) == []
    page.keyboard.type(server.token)
    page.keyboard.press("Enter")

    # the production version opens: its files, labels and outcomes
    expect(page.locator("#version-title")).to_have_text("default version 1")
    expect(page.locator("#version-title")).to_be_focused()
    expect(page.locator("#whoami")).to_have_text(f"Signed in as {ADMIN} (admin)")
    versions = page.locator("#version-list button")
    expect(versions).to_have_count(1)
    expect(versions.nth(0)).to_contain_text("production")
    expect(page.get_by_role("tab", name="system.j2")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#outcomes")).to_contain_text("Approval rate50.0%")
    expect(page.locator("#rejection-reasons")).to_have_text("too long (1)")
    assert page.evaluate("document.cookie") == ""
    editor = page.get_by_label("Contents of system.j2")
    original = server.api.get("/v1/templates/default/versions/1").json()["files"]["system.j2"]
    expect(editor).to_have_value(original)

    # a syntax error on line 3: Validate draws it at line 3 (band, gutter and note) and lists it
    editor.focus()
    page.keyboard.press("Control+Home")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("End")
    page.keyboard.type(BROKEN)
    expect(page.get_by_role("tab", name="system.j2 (edited)")).to_be_visible()
    page.get_by_role("button", name="Validate", exact=True).click()
    mark = page.locator("#marks .mark-line")
    expect(mark).to_have_count(1)
    expect(mark).to_have_attribute("data-line", "3")
    expect(mark.locator(".mark-note")).to_have_text("Line 3, column 33: system.j2 line 3: unexpected '}'")
    gutter_line = page.locator("#gutter-lines > div").nth(2)
    expect(gutter_line).to_have_class("error")
    band, number = mark.bounding_box(), gutter_line.bounding_box()
    assert band and number and abs(band["y"] - number["y"]) < 2  # drawn level with line 3 of the gutter
    expect(page.locator("#issues")).to_contain_text("system.j2, line 3, column 33: system.j2 line 3: unexpected '}'")
    expect(page.locator("#validation-summary")).to_have_text("1 error.")
    page.screenshot(path=str(artifacts / "editor-invalid.png"))
    # the listed issue takes the caret to the place
    page.locator("#issues button").click()
    expect(editor).to_be_focused()
    caret = editor.evaluate("t => t.selectionStart")
    assert caret == len("\n".join(original.split("\n")[:2])) + 1 + 32

    # fix it, and add a line the scripted model answers badly to
    page.keyboard.press("End")
    for _ in BROKEN:
        page.keyboard.press("Backspace")
    page.keyboard.press("Control+End")
    page.keyboard.type(f"\n{MARKER}")
    edited = original + f"\n{MARKER}"
    expect(editor).to_have_value(edited)
    page.get_by_role("button", name="Validate", exact=True).click()
    expect(page.locator("#validation-summary")).to_contain_text("Valid.")
    expect(page.locator("#marks .mark-line")).to_have_count(0)

    # live preview of the unsaved edit against a sample: exactly what the API renders
    page.get_by_label("Sample message").select_option("thanks")
    expected = server.api.post("/v1/templates/default/preview", json={
        "based_on": 1, "changes": {"system.j2": edited}, "sample_id": "thanks"}).json()["request"]["messages"]
    shown = page.locator("#preview-out pre")
    expect(shown).to_have_text([m["content"] for m in expected])  # waits for the sample's render
    expect(shown.nth(0)).to_contain_text(MARKER)
    assert [shown.nth(i).text_content() for i in range(len(expected))] == [m["content"] for m in expected]
    expect(page.locator("#preview-state")).to_contain_text("with your unsaved edits")

    # save as a new draft version: the diff from version 1 shows side by side
    page.get_by_label("What changed and why").fill("Shorter replies")
    page.get_by_role("button", name="Save as new draft version", exact=True).click()
    expect(page.locator("#save-result")).to_have_text("Saved as draft version 2.")
    expect(page.locator("#version-title")).to_have_text("default version 2")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("Draft")
    table = page.locator("#diff-out table")
    expect(table).to_have_count(1)
    expect(table.locator("caption")).to_have_text("system.j2")
    added = edited.removeprefix(original.rstrip("\n") + "\n").split("\n")  # the blank line typed, then MARKER
    expect(table.locator("td.t.add")).to_have_text(added)
    expect(table.locator("td.t.del")).to_have_count(0)

    # run the gate: it regresses, and lists the regressions
    page.get_by_role("button", name="Run gate", exact=True).click()
    expect(page.locator("#gate-out .gate")).to_contain_text("Gate Regressed", timeout=GATE_S)
    expect(page.locator("#gate-out .regressions li").first).to_be_visible()
    expect(page.get_by_label("Override reason", exact=False)).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(artifacts / "editor-gate.png"), full_page=True)
    # the README's picture; refresh it with `cp test-artifacts/browser/editor.png docs/` (a test run leaves the
    # committed file alone)
    page.locator("#main").screenshot(path=str(artifacts / "editor.png"))

    # publish: blocked without a reason, then published with one; the production label moves
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("#publish-result")).to_contain_text("blocked", timeout=GATE_S)
    expect(page.get_by_label("Override reason", exact=False)).to_be_focused()
    page.keyboard.type(OVERRIDE)
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("#publish-result")).to_have_text("Published: production now points at version 2.",
                                                         timeout=GATE_S)
    expect(versions.nth(0)).to_contain_text("production")
    expect(versions.nth(1)).not_to_contain_text("production")
    expect(page.locator("#labels-summary")).to_have_text("Labels: production → version 2.")

    # roll back: production returns to version 1
    page.get_by_label("Reason for rolling production back").fill("Clinicians found the replies curt.")
    page.get_by_role("button", name="Roll back", exact=True).click()
    expect(page.locator("#rollback-result")).to_have_text("Rolled back: production now points at version 1.")
    expect(versions.nth(1)).to_contain_text("production")
    expect(versions.nth(0)).not_to_contain_text("production")
    assert serious_violations(page) == []
    page.screenshot(path=str(artifacts / "editor-rolled-back.png"), full_page=True)

    # what was stored
    v2 = server.api.get("/v1/templates/default/versions/2").json()
    assert (v2["author"], v2["message"], v2["based_on"], v2["files"]["system.j2"]) == (
        ADMIN, "Shorter replies", 1, edited)
    assert v2["gate"]["status"] == "regressed"
    history = server.api.get("/v1/templates/default/labels/production/history").json()
    assert [(m["action"], m["to_version"], m["actor"], m["reason"]) for m in history] == [
        ("seed", 1, "system", "first start: prompts/default"), ("publish", 2, ADMIN, OVERRIDE),
        ("rollback", 1, ADMIN, "Clinicians found the replies curt.")]
    assert [e for e in errors if "status of 409" not in e] == []  # the blocked publish is an expected 409


def test_a_clinician_is_told_the_page_is_for_admins(live_server: LiveServer, browser: Any) -> None:
    _, page, errors = browser
    sign_in(page, live_server)
    expect(page.locator("#forbidden-title")).to_be_focused()
    expect(page.locator("#forbidden-text")).to_have_text(
        f"You are signed in as {live_server.clinician}, whose role is clinician. Editing templates needs the admin "
        "role.")
    expect(page.locator("#editor-view")).to_be_hidden()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Sign in with another token", exact=True).click()
    expect(page.get_by_label("API token")).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('drafter.token')") is None
    assert errors == []


def test_template_text_is_shown_as_text_never_as_markup(admin_server: LiveServer, browser: Any) -> None:
    server = admin_server
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> <b>bold</b>'
    system = server.api.get("/v1/templates/default/versions/1").json()["files"]["system.j2"]
    created = server.api.post("/v1/templates/default/versions", json={
        "based_on": 1, "changes": {"system.j2": f"{system}\n{hostile}"}, "message": hostile})
    assert created.status_code == 201, created.text
    _, page, errors = browser
    sign_in(page, server)
    page.locator('#version-list button[data-version="2"]').click()
    expect(page.locator("#version-title")).to_have_text("default version 2")
    expect(page.get_by_label("Contents of system.j2")).to_have_value(f"{system}\n{hostile}")
    expect(page.locator("#preview-out pre").first).to_contain_text(hostile)
    expect(page.locator("#version-meta q")).to_have_text(hostile)
    page.get_by_role("button", name="Show diff", exact=True).click()
    expect(page.locator("#diff-out td.t.add")).to_have_text(["", hostile])  # system.j2 ends with a newline
    assert page.locator("#work img, #work script, #work b, #version-list b").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert errors == []
