"""The inbox in a real headless Chromium (Debian's), driven by keyboard like a clinician without a mouse.

Load the page, sign in with a token, open the urgent message (sorted first), see the emergency finding
highlighted with its explanation on focus and on hover, edit the draft, approve it, and check the stored review
through the API. axe-core (bundled in the axe-playwright-python wheel, injected from disk) must report no serious
or critical violation on each screen. Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, serious_violations
from tests.conftest import GOOD_REPLY

pytestmark = pytest.mark.browser

CHEST = "I have crushing chest pain spreading to my left arm and I feel sweaty. What should I do?"
KNEE = "My knee still hurts a little when I climb stairs. Can I keep doing my exercises?"
EDIT = " If you cannot call, ask someone nearby to call for you."
CHEST_REPLY = ("I am so sorry you are going through this. Chest pain that spreads to your arm with sweating can be "
               "a sign of a heart attack, so please call 911 now or have someone take you to the nearest emergency "
               "room. Do not drive yourself. I will call you tomorrow morning to check on you.\n[CLINICIAN_NAME]")
KNEE_REPLY = ("Thank you for the update on your knee. It is good that the pain is mild. Please keep doing the "
              "exercises as long as the pain stays mild, and tell us if it gets worse.\n[CLINICIAN_NAME]")


def wait_drafted(server: LiveServer, draft_ids: list[str], within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        statuses = [server.api.get(f"/v1/drafts/{d}").json()["status"] for d in draft_ids]
        if not {"queued", "generating"} & set(statuses):
            return
        time.sleep(0.05)
    raise AssertionError("drafts were not written in time")


def test_keyboard_only_review_of_an_urgent_message(live_server: LiveServer, browser: Any, artifacts: Path) -> None:
    server = live_server
    server.llm.enqueue(KNEE_REPLY, CHEST_REPLY)  # one worker drafts in arrival order
    knee = server.api.post("/v1/messages", json={"message": {"text": KNEE, "subject": "Knee exercises"}}).json()
    chest = server.api.post("/v1/messages", json={"message": {"text": CHEST}}).json()
    assert chest["urgency"] == "emergency"
    wait_drafted(server, [knee["id"], chest["id"]])
    _, page, errors = browser

    # sign in: the token field has focus, Enter submits
    page.goto(f"{server.url}/inbox")
    expect(page.get_by_label("API token")).to_be_focused()
    assert serious_violations(page) == []
    page.screenshot(path=str(artifacts / "inbox-login.png"))
    page.keyboard.type(server.token)
    page.keyboard.press("Enter")

    # the list: the emergency first although it arrived last; focus on it
    items = page.locator("#message-list button")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Emergency")
    expect(items.nth(1)).to_contain_text("Knee exercises")
    expect(items.nth(0)).to_be_focused()
    expect(page.locator("#whoami")).to_have_text(f"Signed in as {server.clinician} (clinician)")
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("sessionStorage.getItem('drafter.token')") == server.token

    # open it with Enter: the emergency finding is highlighted at its span in the patient's message
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_be_focused()
    expect(page.locator("#detail-title")).to_contain_text("Emergency message")
    mark = page.locator('#message-text mark[data-check~="urgency"]').first
    expect(mark).to_be_visible()
    start, end = next(f["span"] for f in chest_findings(server, chest["id"]) if f["check"] == "urgency")
    assert mark.evaluate("m => m.firstChild.textContent") == CHEST[start:end]
    # its plain explanation shows on keyboard focus (n: next highlight) ...
    page.keyboard.press("n")
    expect(mark).to_be_focused()
    tip = page.locator(f"#{mark.get_attribute('aria-describedby')}")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Emergency: the patient describes")
    assert serious_violations(page) == []
    page.screenshot(path=str(artifacts / "inbox-open.png"))
    # ... and on hover
    page.keyboard.press("Escape")
    page.locator("#detail-title").focus()
    expect(tip).to_be_hidden()
    mark.hover()
    expect(tip).to_be_visible()
    page.mouse.move(0, 0)

    # edit in place (e), leave the editor (Esc), approve (a) — acknowledging block findings if there are any
    page.keyboard.press("e")
    editor = page.get_by_label("Edit the reply")
    expect(editor).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.type(EDIT)
    page.keyboard.press("Escape")
    expect(page.locator("#draft-text")).to_contain_text(EDIT.strip())
    page.keyboard.press("a")
    if page.locator("#ack-row").is_visible():
        expect(page.locator("#ack")).to_be_focused()  # approving first asks for the acknowledgement
        page.keyboard.press("Space")
        page.keyboard.press("a")
    expect(page.locator("#decision")).to_contain_text(f"Approved by {server.clinician}")
    expect(page.locator("#decision")).to_be_focused()

    # quick feedback: thumbs and a tag, by keyboard
    page.locator("#thumbs-up").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Empathetic").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Send feedback").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#feedback-sent")).to_have_text("Thank you: feedback saved.")
    assert serious_violations(page) == []
    page.screenshot(path=str(artifacts / "inbox-approved.png"), full_page=True)

    # what was stored: the edited text, by the token's user, marked edited
    stored = server.api.get(f"/v1/drafts/{chest['id']}").json()
    assert stored["status"] == "approved"
    assert stored["review"]["reviewer"] == server.clinician
    assert stored["review"]["final_text"] == (stored["text"] + EDIT).strip()
    assert stored["review"]["edited"] is True
    assert stored["review"]["char_edit_distance"] == len(EDIT)
    feedback = server.api.get(f"/v1/drafts/{chest['id']}/feedback").json()["items"]
    assert [(f["rating"], f["tags"], f["user"]) for f in feedback] == [("up", ["empathetic"], server.clinician)]
    assert errors == []


def chest_findings(server: LiveServer, draft_id: str) -> list[dict[str, Any]]:
    return list(server.api.get(f"/v1/drafts/{draft_id}").json()["findings"])


def test_patient_text_is_shown_as_text_never_as_markup(live_server: LiveServer, browser: Any) -> None:
    server = live_server
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> my <b>knee</b> hurts'
    server.llm.default = 'Thank you <img src=y onerror="window.__pwned=3">. We will reply today.\n[CLINICIAN_NAME]'
    draft = server.api.post("/v1/messages", json={"message": {"text": hostile}}).json()
    wait_drafted(server, [draft["id"]])
    _, page, _ = browser
    page.goto(f"{server.url}/inbox")
    page.get_by_label("API token").fill(server.token)
    page.keyboard.press("Enter")
    page.locator("#message-list button").first.click()
    expect(page.locator("#message-text")).to_have_text(hostile)
    expect(page.locator("#draft-text")).to_contain_text("<img src=y")
    assert page.locator("#detail img, #detail script, #detail b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_draft_still_being_written_streams_in(live_server: LiveServer, browser: Any) -> None:
    """Opened while the worker writes it, the draft's text grows on the page until the stored draft replaces it."""
    server = live_server
    gate = server.llm
    gate.default = GOOD_REPLY
    slow_words = 0.15  # seconds per streamed word: long enough to watch it arrive
    original = type(gate).stream

    async def slow_stream(self: Any, request: Any) -> Any:
        import asyncio

        async for event in original(self, request):
            await asyncio.sleep(slow_words)
            yield event

    gate.stream = slow_stream.__get__(gate)  # type: ignore[method-assign]
    _, page, errors = browser
    page.goto(f"{server.url}/inbox")
    page.get_by_label("API token").fill(server.token)
    page.keyboard.press("Enter")
    expect(page.locator("#list-summary")).to_have_text("No messages here.")
    draft = server.api.post("/v1/messages", json={"message": {"text": KNEE}}).json()
    page.get_by_label("Being written").check()
    page.locator("#message-list button").first.click()
    expect(page.locator("#draft-state")).to_have_text("Being written", timeout=10_000)
    expect(page.locator("#draft-text")).to_contain_text("Thank you for telling us", timeout=10_000)
    partial = page.locator("#draft-text").inner_text()
    assert 0 < len(partial) < len(GOOD_REPLY)
    expect(page.locator("#draft-state")).to_have_text("Ready for review", timeout=20_000)
    stored = server.api.get(f"/v1/drafts/{draft['id']}").json()
    expect(page.locator("#draft-text")).to_have_text(stored["text"])
    assert errors == []
