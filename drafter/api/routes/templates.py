"""Template administration (admin role): sets, versions, validation, preview, diff, gate, publish, rollback,
labels and per-version outcomes. Every change is audited by the template store."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status

from drafter.api.auth import Principal, Role, require
from drafter.api.deps import ServicesDep
from drafter.api.schemas import ErrorBody
from drafter.api.template_schemas import (
    CreatedVersion,
    CreateVersion,
    DiffOut,
    FilesBody,
    GateOut,
    LabelBody,
    LabelMoveOut,
    LabelOut,
    OutcomesOut,
    PreviewBody,
    PreviewOut,
    PublishBody,
    Published,
    RollbackBody,
    SampleOut,
    SetList,
    SetOut,
    ValidationOut,
    VersionList,
    VersionOut,
    VersionSummary,
)
from drafter.errors import ConfigError
from drafter.services import Services
from drafter.templates.admin import TemplateAdmin
from drafter.templates.samples import samples

router = APIRouter(prefix="/v1/templates", tags=["templates"])
samples_router = APIRouter(prefix="/v1/template-samples", tags=["templates"])

SetName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Template set name.")]
Version = Annotated[int, Path(ge=1, le=1_000_000, description="Version number within the set.")]
Label = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 422, 429, 500, 503)}


async def _admin_actor(principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> str:
    """Who acts: the admin the token belongs to (never a name from the request body)."""
    return principal.name


Actor = Annotated[str, Depends(_admin_actor)]


def _admin(services: Services) -> TemplateAdmin:
    if services.templates is None:
        raise ConfigError("Template administration is not available in this process.")
    return services.templates


async def _labels_by_version(admin: TemplateAdmin, set_name: str) -> dict[int, list[str]]:
    by_version: dict[int, list[str]] = {}
    for label in await admin.store.labels(set_name):
        by_version.setdefault(label.version, []).append(label.label)
    return by_version


@samples_router.get("", response_model=list[SampleOut], responses=ERRORS)
async def list_samples(_: Actor) -> list[SampleOut]:
    """The sample messages previews and validation use (some real, from MeQSum)."""
    return [SampleOut(id=s.id, title=s.title, source=s.source) for s in samples()]


@router.get("", response_model=SetList, responses=ERRORS)
async def list_sets(services: ServicesDep, _: Actor) -> SetList:
    """Every template set with its number of versions and its labels."""
    return SetList(items=[SetOut(**asdict(s)) for s in await _admin(services).sets()])


@router.get("/{set_name}/versions", response_model=VersionList, responses=ERRORS)
async def list_versions(set_name: SetName, services: ServicesDep, _: Actor) -> VersionList:
    """A set's versions, newest first, with status, labels, validation and gate verdicts."""
    admin = _admin(services)
    rows, labels = await admin.versions(set_name)
    by_version = await _labels_by_version(admin, set_name)
    return VersionList(set=set_name, labels={label.label: label.version for label in labels},
                       items=[VersionSummary.from_row(r, by_version.get(r.version, [])) for r in rows])


@router.get("/{set_name}/versions/{version}", response_model=VersionOut, responses=ERRORS)
async def get_version(set_name: SetName, version: Version, services: ServicesDep, _: Actor) -> VersionOut:
    """One version with every file, its last validation report and gate result."""
    admin = _admin(services)
    row = await admin.version(set_name, version)
    return VersionOut.full(row, (await _labels_by_version(admin, set_name)).get(version, []))


@router.post("/{set_name}/versions", response_model=CreatedVersion, status_code=status.HTTP_201_CREATED,
             responses=ERRORS)
async def create_version(set_name: SetName, body: CreateVersion, services: ServicesDep, actor: Actor) -> CreatedVersion:
    """Save a new draft version (the whole set, or changes to `based_on`); 422 with every issue if invalid."""
    admin = _admin(services)
    files = await admin.files_for(set_name, files=body.files, changes=body.changes, based_on=body.based_on)
    row, report = await admin.create(set_name, files, author=actor, message=body.message, based_on=body.based_on)
    return CreatedVersion(version=VersionOut.full(row, []), validation=ValidationOut(**report.to_dict()))


@router.post("/{set_name}/validate", response_model=ValidationOut, responses=ERRORS)
async def validate_files(set_name: SetName, body: FilesBody, services: ServicesDep, _: Actor) -> ValidationOut:
    """Validate unsaved files (nothing stored): every issue with file, line and column, then sample renders."""
    admin = _admin(services)
    files = await admin.files_for(set_name, files=body.files, changes=body.changes, based_on=body.based_on)
    return ValidationOut(**(await admin.validate(files, label=f"{set_name}@unsaved")).to_dict())


@router.post("/{set_name}/versions/{version}/validate", response_model=ValidationOut, responses=ERRORS)
async def validate_version(set_name: SetName, version: Version, services: ServicesDep, _: Actor) -> ValidationOut:
    """Validate a stored version again; the report is stored with it."""
    return ValidationOut(**(await _admin(services).validate_version(set_name, version)).to_dict())


@router.post("/{set_name}/versions/{version}/preview", response_model=PreviewOut, responses=ERRORS)
async def preview_version(set_name: SetName, version: Version, body: PreviewBody, services: ServicesDep,
                          actor: Actor) -> PreviewOut:
    """The exact messages a stored version renders for a sample (optionally a full draft with findings)."""
    result = await _admin(services).preview(set_name, version=version, sample_id=body.sample_id,
                                            request=body.request, mode=body.mode, full_draft=body.full_draft,
                                            actor=actor)
    return PreviewOut(**asdict(result))


@router.post("/{set_name}/preview", response_model=PreviewOut, responses=ERRORS)
async def preview_files(set_name: SetName, body: PreviewBody, services: ServicesDep, actor: Actor) -> PreviewOut:
    """Preview unsaved files (the editor's live preview); nothing is stored."""
    admin = _admin(services)
    files = await admin.files_for(set_name, files=body.files, changes=body.changes, based_on=body.based_on)
    result = await admin.preview(set_name, files=files, sample_id=body.sample_id, request=body.request,
                                 mode=body.mode, full_draft=body.full_draft, actor=actor)
    return PreviewOut(**asdict(result))


@router.get("/{set_name}/diff", response_model=DiffOut, responses=ERRORS)
async def diff_versions(set_name: SetName, services: ServicesDep, _: Actor,
                        from_: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
                        to: Annotated[int, Query(ge=1, le=1_000_000)]) -> DiffOut:
    """Unified diff per file between two versions."""
    return DiffOut(**await _admin(services).diff(set_name, from_, to))


@router.post("/{set_name}/versions/{version}/gate", response_model=GateOut, responses=ERRORS)
async def run_gate(set_name: SetName, version: Version, services: ServicesDep, actor: Actor) -> GateOut:
    """Run the eval gate on a version against production; the result is stored with the version."""
    return GateOut(**(await _admin(services).run_gate(set_name, version, actor=actor)).to_dict())


@router.post("/{set_name}/versions/{version}/publish", response_model=Published, responses=ERRORS)
async def publish(set_name: SetName, version: Version, body: PublishBody, services: ServicesDep,
                  actor: Actor) -> Published:
    """Validate, run the gate and point production at the version; 409 gate_blocked unless overridden."""
    admin = _admin(services)
    row, gate = await admin.publish(set_name, version, actor=actor, override_reason=body.override_reason)
    labels = (await _labels_by_version(admin, set_name)).get(version, [])
    return Published(version=VersionSummary.from_row(row, labels), gate=GateOut(**gate.to_dict()))


@router.post("/{set_name}/rollback", response_model=LabelOut, responses=ERRORS)
async def rollback(set_name: SetName, body: RollbackBody, services: ServicesDep, actor: Actor) -> LabelOut:
    """Move production back to the version before (or to `to_version`, a version that was live before)."""
    admin = _admin(services)
    await admin.rollback(set_name, actor=actor, reason=body.reason, to_version=body.to_version)
    label = await admin.store.label(set_name, "production")
    assert label is not None
    return LabelOut.from_row(label)


@router.put("/{set_name}/labels/{label}", response_model=LabelOut, responses=ERRORS)
async def set_label(set_name: SetName, label: Label, body: LabelBody, services: ServicesDep,
                    actor: Actor) -> LabelOut:
    """Point a label other than production (e.g. staging) at a version."""
    return LabelOut.from_row(await _admin(services).set_label(set_name, label, body.version, actor=actor))


@router.get("/{set_name}/labels/{label}/history", response_model=list[LabelMoveOut], responses=ERRORS)
async def label_history(set_name: SetName, label: Label, services: ServicesDep, _: Actor) -> list[LabelMoveOut]:
    """Every move of a label, oldest first (publishes, rollbacks, who and why)."""
    return [LabelMoveOut.from_row(m) for m in await _admin(services).history(set_name, label)]


@router.get("/{set_name}/versions/{version}/outcomes", response_model=OutcomesOut, responses=ERRORS)
async def outcomes(set_name: SetName, version: Version, services: ServicesDep, _: Actor) -> OutcomesOut:
    """How clinicians treated this version's drafts: approval rates, edit distances, rejection reasons."""
    return await _admin(services).outcomes(set_name, version)
