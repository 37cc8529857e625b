"""Template versions and labels in the database (SQLite and PostgreSQL): seeding, immutability of numbering,
label moves with history and status, and every change in the audit chain."""

from __future__ import annotations

import asyncio

import pytest

from drafter.errors import NotFoundError
from drafter.storage.audit import GENESIS, event_hash
from drafter.storage.repository import DraftStore
from drafter.templates.refs import TemplateRef
from drafter.templates.store import TemplateStore, checksum

pytestmark = pytest.mark.anyio


async def test_first_start_seeds_version_1_in_production_and_later_starts_do_nothing(
        templates: TemplateStore, default_files: dict[str, str]) -> None:
    first = await templates.seed("default", default_files, origin="prompts/default")
    assert first is not None and first.version == 1 and first.status == "published"
    assert first.checksum == checksum(default_files)
    assert await templates.seed("default", default_files, origin="prompts/default") is None
    label = await templates.label("default", "production")
    assert label is not None and label.version == 1
    assert [(m.action, m.from_version, m.to_version) for m in await templates.history("default", "production")] == [
        ("seed", None, 1)]


async def test_changed_files_become_a_draft_never_production(templates: TemplateStore,
                                                             default_files: dict[str, str]) -> None:
    await templates.seed("default", default_files, origin="prompts/default")
    edited = default_files | {"system.j2": default_files["system.j2"] + "\nBe brief."}
    second = await templates.seed("default", edited, origin="prompts/default")
    assert second is not None and (second.version, second.status) == (2, "draft")
    assert "files changed" in second.message
    assert (await templates.resolve(TemplateRef("default"))).version == 1


async def test_concurrent_seeding_stores_one_version(templates: TemplateStore, default_files: dict[str, str]) -> None:
    results = await asyncio.gather(*(templates.seed("default", default_files, origin="x") for _ in range(4)))
    assert sum(r is not None for r in results) == 1
    assert [v.version for v in await templates.versions("default")] == [1]


async def test_production_moves_set_status_and_keep_history(templates: TemplateStore,
                                                            default_files: dict[str, str]) -> None:
    await templates.seed("default", default_files, origin="x")
    v2 = await templates.create("default", default_files | {"user.j2": default_files["user.j2"] + "\n"},
                                author="ana", message="spacing", based_on=1)
    assert (v2.version, v2.status, v2.author) == (2, "draft", "ana")
    await templates.move_label("default", "production", 2, actor="ana", action="publish")
    statuses = {v.version: v.status for v in await templates.versions("default")}
    assert statuses == {1: "archived", 2: "published"}
    assert (await templates.version("default", 2)).published_by == "ana"
    await templates.move_label("default", "staging", 1, actor="ana", action="label")
    assert {v.version: v.status for v in await templates.versions("default")} == statuses  # only production counts
    assert (await templates.resolve(TemplateRef("default", label="staging"))).version == 1
    moves = await templates.history("default", "production")
    assert [(m.action, m.from_version, m.to_version, m.actor) for m in moves] == [
        ("seed", None, 1, "system"), ("publish", 1, 2, "ana")]


@pytest.mark.parametrize(
    ("ref", "problem"),
    [(TemplateRef("default", version=9), "no version 9"), (TemplateRef("default", label="nope"), "no label 'nope'"),
     (TemplateRef("other"), "no label 'production'")],
)
async def test_unknown_references_name_what_is_missing(templates: TemplateStore, default_files: dict[str, str],
                                                       ref: TemplateRef, problem: str) -> None:
    await templates.seed("default", default_files, origin="x")
    with pytest.raises(NotFoundError) as info:
        await templates.resolve(ref)
    assert problem in info.value.message


async def test_every_change_is_in_the_audit_chain(templates: TemplateStore, drafts: DraftStore,
                                                  default_files: dict[str, str]) -> None:
    await templates.seed("default", default_files, origin="x")
    v2 = await templates.create("default", default_files | {"x.j2": "x"}, author="ana", message="m", based_on=1)
    await templates.record(v2.id, gate={"status": "regressed", "passed": False}, actor="ana")
    await templates.move_label("default", "production", 2, actor="ana", action="publish", reason="override: why")
    events = await drafts.audit_events()
    assert [e.action for e in events] == ["template.version_created", "template.seed", "template.version_created",
                                          "template.gate_run", "template.publish"]
    assert events[-1].details["reason"] == "override: why" and events[-1].actor == "ana"
    previous = GENESIS
    for e in events:  # the chain still verifies with template events in it
        assert e.prev_hash == previous
        assert e.hash == event_hash(prev_hash=e.prev_hash, at=e.at, actor=e.actor, action=e.action,
                                    entity_type=e.entity_type, entity_id=e.entity_id, details=e.details)
        previous = e.hash
