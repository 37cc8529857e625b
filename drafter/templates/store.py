"""Template versions and labels in the database: immutable versions, label moves with history, seeding.

Writes share the DraftStore's write transaction (its SQLite lock / PostgreSQL advisory lock), so every change
and its audit event commit together and the audit chain stays linear.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from drafter.errors import ConflictError, NotFoundError
from drafter.storage.models import Draft, Review, TemplateLabel, TemplateLabelMove, TemplateVersion, utcnow
from drafter.storage.repository import DraftStore
from drafter.templates.refs import PRODUCTION, TemplateRef


class VersionStatus(StrEnum):
    """draft: never live; published: what `production` points at now; archived: was live, replaced since."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


def checksum(files: Mapping[str, str]) -> str:
    """SHA-256 over the files' names and texts (order-independent)."""
    return hashlib.sha256(json.dumps(dict(sorted(files.items())), ensure_ascii=False).encode()).hexdigest()


def files_of_dir(directory: Path) -> dict[str, str]:
    """Every file of a template set folder that a TemplateSet reads (manifest, exemplars, *.j2)."""
    return {p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(directory.rglob("*")) if p.is_file() and p.suffix in {".j2", ".yaml"}}


@dataclass(frozen=True, slots=True)
class SetSummary:
    name: str
    versions: int
    latest: int
    labels: dict[str, int]


class TemplateStore:
    """Reads and writes of template_versions, template_labels and template_label_moves."""

    def __init__(self, drafts: DraftStore) -> None:
        self.drafts = drafts

    # -- reads -------------------------------------------------------------------------------------

    async def sets(self) -> list[SetSummary]:
        """Every set with its version count, newest version and labels."""
        async with self.drafts._read() as session:
            counts = (await session.execute(
                select(TemplateVersion.set_name, func.count(), func.max(TemplateVersion.version))
                .group_by(TemplateVersion.set_name).order_by(TemplateVersion.set_name))).all()
            labels = (await session.execute(select(TemplateLabel))).scalars().all()
        by_set: dict[str, dict[str, int]] = {}
        for label in labels:
            by_set.setdefault(label.set_name, {})[label.label] = label.version
        return [SetSummary(name, int(count), int(latest), by_set.get(name, {})) for name, count, latest in counts]

    async def versions(self, set_name: str) -> list[TemplateVersion]:
        """All versions of a set, newest first; NotFoundError for an unknown set."""
        async with self.drafts._read() as session:
            rows = list((await session.execute(select(TemplateVersion).where(TemplateVersion.set_name == set_name)
                                               .order_by(TemplateVersion.version.desc()))).scalars())
        if not rows:
            raise NotFoundError(f"No template set named {set_name!r}. `drafter templates list` shows the sets.")
        return rows

    async def version(self, set_name: str, version: int) -> TemplateVersion:
        """One version by number."""
        async with self.drafts._read() as session:
            row = (await session.execute(select(TemplateVersion).where(
                TemplateVersion.set_name == set_name, TemplateVersion.version == version))).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"Template set {set_name!r} has no version {version}.")
        return row

    async def version_by_id(self, version_id: str) -> TemplateVersion:
        async with self.drafts._read() as session:
            row = await session.get(TemplateVersion, version_id)
        if row is None:
            raise NotFoundError(f"No template version with id {version_id}.")
        return row

    async def label(self, set_name: str, label: str) -> TemplateLabel | None:
        """The cheap per-draft lookup: one primary-key read."""
        return await self.drafts.run_read(lambda session: session.get(TemplateLabel, (set_name, label)))

    async def labels(self, set_name: str) -> list[TemplateLabel]:
        async with self.drafts._read() as session:
            return list((await session.execute(select(TemplateLabel).where(TemplateLabel.set_name == set_name)
                                               .order_by(TemplateLabel.label))).scalars())

    async def resolve(self, ref: TemplateRef) -> TemplateVersion:
        """The version a reference names (a number or a label); NotFoundError naming what is missing."""
        if ref.version is not None:
            return await self.version(ref.set_name, ref.version)
        label = await self.label(ref.set_name, ref.label or PRODUCTION)
        if label is None:
            raise NotFoundError(f"Template set {ref.set_name!r} has no label {ref.label or PRODUCTION!r}.")
        return await self.version_by_id(label.version_id)

    async def history(self, set_name: str, label: str) -> list[TemplateLabelMove]:
        """Every move of a label, oldest first."""
        async with self.drafts._read() as session:
            return list((await session.execute(
                select(TemplateLabelMove)
                .where(TemplateLabelMove.set_name == set_name, TemplateLabelMove.label == label)
                .order_by(TemplateLabelMove.id))).scalars())

    async def outcome_rows(self, version_id: str) -> tuple[int, int, Sequence[Review]]:
        """(drafts produced, drafts held for a clinician, the reviews) of the drafts one version rendered."""
        async with self.drafts._read() as session:
            produced = (await session.execute(select(func.count()).select_from(Draft).where(
                Draft.template_version_id == version_id, Draft.text.is_not(None)))).scalar_one()
            held = (await session.execute(select(func.count()).select_from(Draft).where(
                Draft.template_version_id == version_id, Draft.status == "needs_clinician"))).scalar_one()
            reviews = (await session.execute(select(Review).join(Draft, Review.draft_id == Draft.id).where(
                Draft.template_version_id == version_id))).scalars().all()
        return int(produced), int(held), reviews

    # -- writes ------------------------------------------------------------------------------------

    async def create(self, set_name: str, files: Mapping[str, str], *, author: str, message: str,
                     based_on: int | None, validation: dict[str, Any] | None = None) -> TemplateVersion:
        """Store a new immutable draft version (the next number of the set) and audit it."""
        async with self.drafts._write() as session:
            return await self._create(session, set_name, files, author=author, message=message, based_on=based_on,
                                      validation=validation)

    async def _create(self, session: AsyncSession, set_name: str, files: Mapping[str, str], *, author: str,
                      message: str, based_on: int | None, validation: dict[str, Any] | None) -> TemplateVersion:
        latest = (await session.execute(select(func.max(TemplateVersion.version))
                                        .where(TemplateVersion.set_name == set_name))).scalar()
        row = TemplateVersion(set_name=set_name, version=(latest or 0) + 1, files=dict(files),
                              checksum=checksum(files), status=VersionStatus.DRAFT.value, author=author,
                              message=message, based_on=based_on, created_at=utcnow(), validation=validation)
        session.add(row)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise ConflictError(f"Another version of {set_name!r} was created at the same moment; try again.") from exc
        await self.drafts.append_event(session, actor=author, action="template.version_created",
                                       entity_type="template_version", entity_id=row.id,
                                       details={"set": set_name, "version": row.version, "based_on": based_on,
                                                "checksum": row.checksum, "files": len(files)})
        return row

    async def record(self, version_id: str, *, validation: dict[str, Any] | None = None,
                     gate: dict[str, Any] | None = None, actor: str | None = None) -> TemplateVersion:
        """Store a validation report and/or gate result with the version (a gate run is audited)."""
        async with self.drafts._write() as session:
            row = await session.get(TemplateVersion, version_id)
            if row is None:
                raise NotFoundError(f"No template version with id {version_id}.")
            if validation is not None:
                row.validation = validation
            if gate is not None:
                row.gate = gate
                await self.drafts.append_event(session, actor=actor or "system", action="template.gate_run",
                                               entity_type="template_version", entity_id=row.id,
                                               details={"set": row.set_name, "version": row.version,
                                                        "passed": bool(gate.get("passed")),
                                                        "status": gate.get("status")})
            return row

    async def move_label(self, set_name: str, label: str, version: int, *, actor: str, action: str,
                         reason: str | None = None, details: dict[str, Any] | None = None) -> TemplateLabel:
        """Point a label at a version, keep its history, and audit it; `production` also moves version status."""
        async with self.drafts._write() as session:
            return await self._move(session, set_name, label, version, actor=actor, action=action, reason=reason,
                                    details=details or {})

    async def _move(self, session: AsyncSession, set_name: str, label: str, version: int, *, actor: str,
                    action: str, reason: str | None, details: dict[str, Any]) -> TemplateLabel:
        target = (await session.execute(select(TemplateVersion).where(
            TemplateVersion.set_name == set_name, TemplateVersion.version == version))).scalar_one_or_none()
        if target is None:
            raise NotFoundError(f"Template set {set_name!r} has no version {version}.")
        current = await session.get(TemplateLabel, (set_name, label), with_for_update=True)
        previous = current.version if current else None
        now = utcnow()
        if current is None:
            current = TemplateLabel(set_name=set_name, label=label, version_id=target.id, version=version,
                                    moved_at=now, moved_by=actor)
            session.add(current)
        else:
            current.version_id, current.version, current.moved_at, current.moved_by = target.id, version, now, actor
        if label == PRODUCTION and previous != version:
            if previous is not None:
                old = (await session.execute(select(TemplateVersion).where(
                    TemplateVersion.set_name == set_name, TemplateVersion.version == previous))).scalar_one()
                old.status = VersionStatus.ARCHIVED.value
            target.status = VersionStatus.PUBLISHED.value
            if target.published_at is None:
                target.published_at, target.published_by = now, actor
        session.add(TemplateLabelMove(set_name=set_name, label=label, from_version=previous, to_version=version,
                                      action=action, actor=actor, reason=reason, at=now))
        await session.flush()
        await self.drafts.append_event(session, actor=actor, action=f"template.{action}",
                                       entity_type="template_version", entity_id=target.id,
                                       details={"set": set_name, "label": label, "from_version": previous,
                                                "to_version": version, **({"reason": reason} if reason else {}),
                                                **details})
        return current

    async def seed(self, set_name: str, files: Mapping[str, str], *, origin: str) -> TemplateVersion | None:
        """First start: the files become version 1, published under `production`. Later starts: files that
        differ from every stored version become a new draft version (never published without an admin).

        Returns the version created, or None when the files are already stored. One transaction under the
        store's write lock, so workers starting at once seed once.
        """
        digest = checksum(files)
        try:
            async with self.drafts._write() as session:
                known = set((await session.execute(select(TemplateVersion.checksum)
                                                    .where(TemplateVersion.set_name == set_name))).scalars())
                if digest in known:
                    return None
                row = await self._create(session, set_name, files, author="system", based_on=None, validation=None,
                                         message=f"Imported from {origin}" + ("" if not known else
                                                                               " (the files changed)"))
                if not known:
                    await self._move(session, set_name, PRODUCTION, row.version, actor="system", action="seed",
                                     reason=f"first start: {origin}", details={})
                return row
        except ConflictError:
            return None  # another process seeded at the same moment
