"""All reads and writes of messages, drafts, findings, reviews and audit events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from rapidfuzz.distance import Levenshtein
from sqlalchemy import Row, case, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached, selectinload, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from drafter.domain import DraftRequest, DraftStatus
from drafter.errors import ConflictError, NotFoundError, ReviewRuleError, StorageError
from drafter.storage.audit import GENESIS, event_hash
from drafter.storage.engine import session_factory, sqlite_twin
from drafter.storage.models import (
    AuditEvent,
    Draft,
    DraftFeedback,
    FhirCommunication,
    FindingRow,
    Message,
    Review,
    TemplateLabel,
    new_id,
    utcnow,
)
from drafter.storage.serial import SerialWriter
from guardrails import Finding, Severity, Urgency

_AUDIT_LOCK_KEY = 0x64726166  # "draf": PostgreSQL advisory lock serialising the audit chain
T = TypeVar("T")


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _to_utc(value: datetime | None) -> datetime | None:
    """A caller's datetime as aware UTC before it is stored (a naive one is taken to be UTC already).

    Neither backend does this for us: SQLite drops the offset and keeps the wall-clock time (12:00+02:00 would
    come back as 12:00Z), and asyncpg takes a naive value to be in this process's local time zone.
    """
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# PostgreSQL SQLSTATE classes that mean "cannot use the database now" rather than "this statement is wrong":
# connection exception, invalid authorization (unknown role), invalid catalog name (unknown database),
# insufficient resources (too many connections, disk full), operator intervention (shutdown, starting up).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "28", "3D", "53", "57"})


def _unavailable(exc: Exception) -> bool:
    """True when the database cannot be reached or used, as opposed to a statement that is wrong."""
    if isinstance(exc, OSError | OperationalError | InterfaceError):  # refused, timed out, locked, connection lost
        return True
    if not isinstance(exc, DBAPIError):
        return False
    # asyncpg's errors reach us as a plain DBAPIError (e.g. an unknown database while connecting): look at the code.
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return exc.connection_invalidated or (isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES)


_WRITE_UNAVAILABLE = "The database is unavailable; nothing was changed. Try again shortly."
_READ_UNAVAILABLE = "The database is unavailable. Try again shortly."


@contextmanager
def _storage_errors(message: str) -> Iterator[None]:
    """Unavailability (refused, locked, unknown database...) becomes StorageError; a wrong statement stays itself."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        if not _unavailable(exc):
            raise
        raise StorageError(message) from exc


_TABLES = AuditEvent.metadata.tables  # the mapped tables, for Core statements on hot paths
_AUDIT_TABLE = _TABLES[AuditEvent.__tablename__]
_FINDING_TABLE = _TABLES[FindingRow.__tablename__]


def _finding_values(draft_id: str, findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """The findings table's rows for a draft's findings, in order, as plain values for a Core executemany."""
    return [
        {"draft_id": draft_id, "position": i, "check": f.check, "code": f.code, "severity": f.severity.value,
         "target": f.target, "message": f.message, "span_start": f.span[0] if f.span else None,
         "span_end": f.span[1] if f.span else None, "suggestion": f.suggestion}
        for i, f in enumerate(findings)
    ]


def _finding_rows(draft_id: str, findings: Sequence[Finding]) -> list[FindingRow]:
    """The same rows as ORM objects, for a draft's loaded `findings`."""
    return [FindingRow(**row) for row in _finding_values(draft_id, findings)]


# Drafts a late worker (a stale claim drafted twice) must not write: one already finished may be open in front of
# a clinician, who would approve text they never saw; a decision is final. The first finished draft stands.
_FINISHED = (DraftStatus.PENDING_REVIEW.value, DraftStatus.NEEDS_CLINICIAN.value)
_REVIEWED = (DraftStatus.APPROVED.value, DraftStatus.REJECTED.value)
_NOT_REWRITTEN = (*_FINISHED, *_REVIEWED)


def _refuse_rewrite(session: Session, draft_id: str) -> NoReturn:
    """NotFoundError for a missing draft, ConflictError for a finished or reviewed one (the write is not stored)."""
    drafts = _TABLES[Draft.__tablename__]
    found = session.execute(select(drafts.c.status).where(drafts.c.id == draft_id)).scalar_one_or_none()
    if found is None:
        raise NotFoundError(f"No draft with id {draft_id}.")
    why = (f"was {found} by a clinician" if found in _REVIEWED
           else "was finished by another worker")
    raise ConflictError(f"Draft {draft_id} {why} while it was being drafted again; the later result is not stored.",
                        details={"draft_id": draft_id, "status": found})


def _loaded_draft(draft: Row[Any], message: Row[Any], findings: list[FindingRow]) -> Draft:
    """A detached Draft, as a query would have loaded it, from rows the write returned: message and findings
    loaded (the findings as written, without their generated ids), no review (a reviewed draft is never written,
    see _NOT_REWRITTEN)."""
    loaded, parent = Draft(**draft._mapping), Message(**message._mapping)
    make_transient_to_detached(loaded)  # attributes as loaded from the database, not changes to flush
    make_transient_to_detached(parent)
    set_committed_value(loaded, "message", parent)
    set_committed_value(loaded, "findings", findings)
    set_committed_value(loaded, "review", None)
    return loaded


@dataclass(frozen=True, slots=True)
class _Label:
    """A template label to read inside an accept transaction."""

    set_name: str
    label: str


@dataclass(frozen=True, slots=True)
class FhirOrigin:
    """A message that arrived as a FHIR Communication: stored with it so the reply goes to the same thread."""

    resource: dict[str, Any]
    subject: str
    sender: str | None


def append_audit(session: Session, *, actor: str, action: str, entity_type: str, entity_id: str,
                 details: dict[str, Any] | None = None) -> None:
    """Append one event to the hash chain inside the session's write transaction."""
    last = session.execute(select(AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).scalar()
    at = utcnow()
    payload = details or {}
    digest = event_hash(prev_hash=last or GENESIS, at=at, actor=actor, action=action,
                        entity_type=entity_type, entity_id=entity_id, details=payload)
    # A Core INSERT, not session.add: the unit of work's bookkeeping for an object nobody reads back cost
    # more CPU than the statement itself (bench/_profile.py); the row is the same.
    session.execute(insert(_AUDIT_TABLE), [{
        "at": at, "actor": actor, "action": action, "entity_type": entity_type, "entity_id": entity_id,
        "details": payload, "prev_hash": last or GENESIS, "hash": digest}])


class DraftStore:
    """Repository over an async engine; one short transaction per operation.

    Each operation is a synchronous body run in one transaction by `run_write` or `run_read`: on SQLite in a
    worker thread on a synchronous twin of the engine (one hop per read; writes back to back in one thread while
    any wait, `SerialWriter`), elsewhere through the async driver (`run_sync`).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)
        self._is_sqlite = engine.dialect.name == "sqlite"
        # PostgreSQL reads run without a transaction: under READ COMMITTED every statement takes its own snapshot
        # anyway, so BEGIN and the ROLLBACK on return bought nothing but two round trips (a token check 690 -> 485
        # µs) and a backend idle in transaction between statements.
        self._read_sessions = (self._sessions if self._is_sqlite
                               else session_factory(engine.execution_options(isolation_level="AUTOCOMMIT")))
        self.twin = sqlite_twin(engine)  # public so tests can count the statements sent through it
        self._twin_sessions = sessionmaker(self.twin, expire_on_commit=False) if self.twin is not None else None
        # Writes are serialised anyway (SQLite has one writer; PostgreSQL writes take the audit-chain advisory lock),
        # so within a process they queue here, before a pooled connection is checked out. Without it, under load
        # every pooled connection sat blocked on the advisory lock and reads (token checks, GETs) found none free.
        self._write_lock = asyncio.Lock()
        # SQLite: a burst's writes run back to back in one thread instead of one loop turn and hop each; under a
        # burst of 64 drafts the median wait to write halved (README "At scale").
        self._serial = (SerialWriter[Session](lambda body: self._in_twin(body, write=True), self._write_lock)
                        if self.twin is not None else None)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        with _storage_errors(_WRITE_UNAVAILABLE):
            async with self._write_lock, self._sessions.begin() as session:
                if not self._is_sqlite:  # other processes (workers, replicas) write too: the advisory lock orders them
                    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
                yield session

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        with _storage_errors(_READ_UNAVAILABLE):
            async with self._read_sessions() as session:
                yield session

    def _in_twin(self, body: Callable[[Session], T], *, write: bool) -> T:
        assert self._twin_sessions is not None
        with self._twin_sessions.begin() if write else self._twin_sessions() as session:
            return body(session)

    async def run_write(self, body: Callable[[Session], T]) -> T:
        """`body(session)` in one write transaction: committed when it returns, rolled back when it raises."""
        if self._serial is None:
            async with self._write() as session:
                return await session.run_sync(body)
        with _storage_errors(_WRITE_UNAVAILABLE):
            return await self._serial.submit(body)

    async def run_read(self, body: Callable[[Session], T]) -> T:
        """`body(session)` in one read-only session."""
        if self.twin is None:
            async with self._read() as session:
                return await session.run_sync(body)
        with _storage_errors(_READ_UNAVAILABLE):
            return await asyncio.to_thread(self._in_twin, body, write=False)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """One write transaction holding the audit-chain lock, for stores that append events with their writes."""
        async with self._write() as session:
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; unavailability becomes StorageError."""
        async with self._read() as session:
            yield session

    async def append_event(self, session: AsyncSession, *, actor: str, action: str, entity_type: str,
                           entity_id: str, details: dict[str, Any] | None = None) -> None:
        """Append an audit event inside a transaction opened with `writing()` (committed with it)."""
        await session.run_sync(lambda sync: append_audit(sync, actor=actor, action=action, entity_type=entity_type,
                                                         entity_id=entity_id, details=details))

    async def record_event(self, *, actor: str, action: str, entity_type: str, entity_id: str,
                           details: dict[str, Any] | None = None) -> None:
        """Append one audit event in its own transaction. Details must carry no patient text or identifiers."""
        await self.run_write(lambda session: append_audit(session, actor=actor, action=action,
                                                           entity_type=entity_type, entity_id=entity_id,
                                                           details=details))

    async def ping(self) -> None:
        """Raise StorageError unless the database answers."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"The database does not answer ({type(exc).__name__}).") from exc

    async def accept(self, request: DraftRequest, *, urgency: Urgency, source: str, actor: str,
                     template_set: str, backend: str, status: DraftStatus = DraftStatus.GENERATING,
                     origin: FhirOrigin | None = None, template_version_id: str | None = None) -> tuple[str, str]:
        """Store the message and a draft ('generating', or 'queued' for a worker) before any LLM call; return ids."""
        message_id, draft_id, _ = await self.run_write(self._accepting(
            request, urgency=urgency, source=source, actor=actor, backend=backend, status=status, origin=origin,
            template=(template_set, template_version_id)))
        return message_id, draft_id

    async def accept_labelled(self, request: DraftRequest, *, set_name: str, label: str, urgency: Urgency,
                              source: str, actor: str, backend: str) -> tuple[str, str, str]:
        """`accept` a draft for the version a template label points at, read in the same transaction (one fewer
        per draft than reading the label first); return (message id, draft id, version id).

        NotFoundError, and nothing stored, when the set has no such label.
        """
        message_id, draft_id, version_id = await self.run_write(self._accepting(
            request, urgency=urgency, source=source, actor=actor, backend=backend, status=DraftStatus.GENERATING,
            origin=None, template=_Label(set_name, label)))
        assert version_id is not None  # a label always points at a version
        return message_id, draft_id, version_id

    @staticmethod
    def _accepting(request: DraftRequest, *, urgency: Urgency, source: str, actor: str, backend: str,
                   status: DraftStatus, origin: FhirOrigin | None,
                   template: tuple[str, str | None] | _Label) -> Callable[[Session], tuple[str, str, str | None]]:
        """The body of an accept transaction; `template` is (set label, version id), or a label to read."""
        now = utcnow()
        message_id, draft_id = new_id(), new_id()
        # Core inserts, not ORM objects: every draft request runs this, and the unit of work (identity map, flush
        # ordering) cost more than the four statements: 0.9 -> 0.6 ms per accept on SQLite, same statements.
        message = {
            "id": message_id, "received_at": now, "sent_at": _to_utc(request.message.sent_at),
            "subject": request.message.subject, "text": request.message.text, "language": request.message.language,
            "source": source, "urgency": urgency.value, "urgency_rank": urgency.rank,
            "request": request.model_dump(mode="json", exclude={"message"}),
        }
        draft = {"id": draft_id, "message_id": message_id, "status": status.value, "urgency_rank": urgency.rank,
                 "message_received_at": now, "backend": backend, "created_at": now}

        def body(session: Session) -> tuple[str, str, str | None]:
            if isinstance(template, _Label):
                labels = _TABLES[TemplateLabel.__tablename__]
                found = session.execute(select(labels.c.version_id, labels.c.version).where(
                    labels.c.set_name == template.set_name, labels.c.label == template.label)).one_or_none()
                if found is None:
                    raise NotFoundError(f"Template set {template.set_name!r} has no label {template.label!r}.")
                set_label, version_id = f"{template.set_name}@{found.version}", found.version_id
            else:
                set_label, version_id = template
            session.execute(insert(_TABLES[Message.__tablename__]), message)
            session.execute(insert(_TABLES[Draft.__tablename__]),
                            {**draft, "template_set": set_label, "template_version_id": version_id})
            if origin is not None:
                session.execute(insert(_TABLES[FhirCommunication.__tablename__]), {
                    "message_id": message_id, "subject": origin.subject, "sender": origin.sender,
                    "resource": {**origin.resource, "id": message_id}, "created_at": now})
            append_audit(session, actor=actor, action="message.received", entity_type="message",
                         entity_id=message_id, details={"source": source, "urgency": urgency.value})
            return message_id, draft_id, version_id

        return body

    async def start_regeneration(self, draft_id: str, *, actor: str, template_set: str,
                                 backend: str, template_version_id: str | None = None) -> tuple[str, str]:
        """A new 'generating' draft for the same message; the old one is superseded unless it was rejected."""
        def body(session: Session) -> tuple[str, str]:
            old = session.get(Draft, draft_id)
            if old is None:
                raise NotFoundError(f"No draft with id {draft_id}.")
            if old.status in {DraftStatus.APPROVED, DraftStatus.SUPERSEDED}:
                raise ConflictError(f"Draft {draft_id} is {old.status}; regenerate the newest draft of the "
                                    "message instead.")
            if old.status != DraftStatus.REJECTED:  # a rejection is a clinician's decision: keep it visible
                old.status = DraftStatus.SUPERSEDED.value
            draft = Draft(message_id=old.message_id, status=DraftStatus.GENERATING.value,
                          urgency_rank=old.urgency_rank, message_received_at=old.message_received_at,
                          template_set=template_set, backend=backend, template_version_id=template_version_id)
            session.add(draft)
            session.flush()
            append_audit(session, actor=actor, action="draft.regenerated", entity_type="draft",
                         entity_id=draft.id, details={"previous": draft_id})
            return old.message_id, draft.id

        return await self.run_write(body)

    @staticmethod
    def _load(session: Session, draft_id: str, *, lock: bool = False, join_findings: bool = False) -> Draft:
        # Message and review are to-one: joined into the draft's SELECT; findings follow in one more SELECT, or
        # join too when the draft is not expected to have any yet (one row instead of one per finding, each
        # repeating the message). Four round trips became two or one (tests/storage/test_statements.py).
        findings = joinedload(Draft.findings) if join_findings else selectinload(Draft.findings)
        query = (select(Draft).where(Draft.id == draft_id)
                 .options(joinedload(Draft.message), joinedload(Draft.review), findings))
        # FOR UPDATE OF drafts: PostgreSQL refuses to lock the nullable side of the outer join to reviews.
        result = session.execute(query.with_for_update(of=Draft) if lock else query)
        draft = (result.unique() if join_findings else result).scalar_one_or_none()
        if draft is None:
            raise NotFoundError(f"No draft with id {draft_id}.")
        return draft

    @staticmethod
    def _replace_findings(session: Session, draft: Draft, findings: Sequence[Finding]) -> None:
        """Store the draft's findings with one executemany, and leave them on `draft` for the response."""
        if draft.findings:  # only a draft stored a second time has any; the unit of work deletes them
            draft.findings = []
            session.flush()
        values = _finding_values(draft.id, findings)
        if values:
            # The ORM (flush or ORM bulk insert) writes these one statement per row on SQLite, since it wants each
            # generated id back and SQLite cannot return them in order; nothing reads those ids, so a Core
            # executemany writes them all in one round trip.
            session.execute(insert(_FINDING_TABLE), values)
        # The rows just written, as the loaded collection (no history: the flush does not insert them again).
        set_committed_value(draft, "findings", [FindingRow(**row) for row in values])

    async def complete(self, draft_id: str, *, text: str, status: DraftStatus, findings: Sequence[Finding],
                       model: str, prompt_tokens: int, completion_tokens: int, attempts: int,
                       finish_reason: str, timings: dict[str, float], error_code: str | None = None,
                       error_message: str | None = None, template_set: str | None = None,
                       template_version_id: str | None = None) -> Draft:
        """Store the finished draft and its findings in one transaction; return it with its message and findings.

        `error_code`/`error_message` record a model failure behind a template-only fallback draft. `template_set`
        and `template_version_id`, when given, replace those stored at accept: a queued draft learns which version
        rendered it only when a worker drafts it. A draft marked interrupted by a startup sweep that finishes after
        all is stored normally (the mark was a false alarm). A draft finished or reviewed meanwhile (a stale claim
        drafted twice) is left as it is: ConflictError.
        """
        drafts, messages = _TABLES[Draft.__tablename__], _TABLES[Message.__tablename__]
        # A draft regenerated while it was still generating stays superseded: one reviewable draft per message.
        stored_status = case((drafts.c.status == DraftStatus.SUPERSEDED.value, DraftStatus.SUPERSEDED.value),
                             else_=status.value)
        values = {"text": text, "status": stored_status, "model": model, "prompt_tokens": prompt_tokens,
                  "completion_tokens": completion_tokens, "attempts": attempts, "finish_reason": finish_reason,
                  "timings": timings, "error_code": error_code, "error_message": error_message}
        if template_set is not None:
            values |= {"template_set": template_set, "template_version_id": template_version_id}
        rows = _finding_values(draft_id, findings)

        def body(session: Session) -> tuple[Row[Any], Row[Any]]:
            # Core statements only: writes are serialised (one writer, one audit chain), so under a burst every
            # draft waits for the ones before it. Loading the draft through the ORM inside the transaction made
            # that serialised part twice as long (CPU per complete transaction 2.5-3.2 -> 1.3-1.6 ms, side by side).
            # RETURNING hands back the row as stored (its status after the CASE), and the message is one primary-key
            # SELECT: the response needs no read transaction after this one (README "At scale").
            # completed_at when it is written, not before the write waited its turn
            late = drafts.c.status.in_(_NOT_REWRITTEN)
            draft = session.execute(update(drafts).where(drafts.c.id == draft_id, ~late)
                                    .values({**values, "completed_at": utcnow()}).returning(*drafts.c)).one_or_none()
            if draft is None:
                _refuse_rewrite(session, draft_id)
            # Only a draft that failed first (a stale claim, an interrupted mark) has findings already.
            session.execute(delete(_FINDING_TABLE).where(_FINDING_TABLE.c.draft_id == draft_id))
            if rows:
                session.execute(insert(_FINDING_TABLE), rows)  # one executemany for all of them
            append_audit(session, actor="drafter", action="draft.created", entity_type="draft",
                         entity_id=draft_id, details={"status": status.value, "model": model,
                                                      "findings": len(findings)})
            assert draft is not None
            return draft, session.execute(select(*messages.c).where(messages.c.id == draft.message_id)).one()

        draft, message = await self.run_write(body)
        return _loaded_draft(draft, message, _finding_rows(draft_id, findings))

    async def fail(self, draft_id: str, *, error_code: str, error_message: str, findings: Sequence[Finding],
                   attempts: int, timings: dict[str, float]) -> None:
        """Mark the draft failed (the message stays, the draft can be regenerated)."""
        def body(session: Session) -> None:
            draft = self._load(session, draft_id, join_findings=True)
            if draft.status in _NOT_REWRITTEN:
                _refuse_rewrite(session, draft_id)
            failed = DraftStatus.SUPERSEDED if draft.status == DraftStatus.SUPERSEDED else DraftStatus.FAILED
            draft.status, draft.error_code, draft.error_message = failed.value, error_code, error_message
            draft.attempts, draft.timings, draft.completed_at = attempts, timings, utcnow()
            self._replace_findings(session, draft, findings)
            append_audit(session, actor="drafter", action="draft.failed", entity_type="draft",
                         entity_id=draft_id, details={"error_code": error_code})

        await self.run_write(body)

    async def mark_interrupted(self, *, created_before: datetime, error_message: str) -> int:
        """Fail drafts still 'generating' that were started before `created_before`; return how many.

        A process that dies mid-draft leaves its draft 'generating' with no text (text is only written, whole, by
        `complete`); this turns it into a visible failure that can be regenerated. Drafts a pre-generation worker
        claimed (`claimed_at` set) are left alone: the job queue takes them up again once they are stale, so
        pending work resumes instead of failing.
        """
        def body(session: Session) -> int:
            query = select(Draft).where(Draft.status == DraftStatus.GENERATING.value,
                                        Draft.created_at < created_before, Draft.claimed_at.is_(None))
            stale = list(session.execute(query).scalars())
            for draft in stale:
                draft.status, draft.error_code = DraftStatus.FAILED.value, "draft_interrupted"
                draft.error_message, draft.completed_at = error_message, utcnow()
                append_audit(session, actor="drafter", action="draft.interrupted", entity_type="draft",
                             entity_id=draft.id, details={"error_code": "draft_interrupted"})
            return len(stale)

        return await self.run_write(body)

    async def get(self, draft_id: str) -> Draft:
        """One draft with its message, findings and review."""
        return await self.run_read(lambda session: self._load(session, draft_id))

    async def inbox(self, *, statuses: Sequence[DraftStatus] = (), urgent_only: bool = False,
                    limit: int = 50, offset: int = 0) -> list[Draft]:
        """Drafts in inbox order: most urgent first, then the oldest message first."""
        query = (select(Draft)
                 .options(selectinload(Draft.message), selectinload(Draft.findings), selectinload(Draft.review))
                 .order_by(Draft.urgency_rank, Draft.message_received_at, Draft.created_at)
                 .limit(limit).offset(offset))
        if statuses:
            query = query.where(Draft.status.in_([s.value for s in statuses]))
        if urgent_only:
            query = query.where(Draft.urgency_rank < Urgency.ROUTINE.rank)
        return await self.run_read(lambda session: list(session.execute(query).scalars()))

    async def review(self, draft_id: str, *, decision: str, reviewer: str, final_text: str | None,
                     reason: str | None, acknowledge_block_findings: bool) -> Draft:
        """Record a clinician's decision once; enforce the acknowledgement of block findings."""
        def body(session: Session) -> Draft:
            draft = self._load(session, draft_id, lock=True)
            if draft.status in {DraftStatus.APPROVED, DraftStatus.REJECTED}:
                raise ConflictError(f"Draft {draft_id} was already {draft.status}; a decision cannot be changed.")
            if not DraftStatus(draft.status).reviewable:
                raise ConflictError(f"Draft {draft_id} is {draft.status} and cannot be reviewed; "
                                    "regenerate it first.")
            drafted = draft.text or ""
            final: str | None = None
            if decision == "approve":
                blocks = [f for f in draft.findings if f.severity == Severity.BLOCK]
                if blocks and not acknowledge_block_findings:
                    raise ReviewRuleError(
                        f"This draft has {len(blocks)} blocking finding(s) ({', '.join(f.check for f in blocks)}); "
                        "set acknowledge_block_findings to true to approve it anyway.")
                final = final_text if final_text is not None else drafted
            now = utcnow()
            draft.review = Review(
                decision=decision, reviewer=reviewer, final_text=final, reason=reason,
                edited=final is not None and final != drafted, acknowledged_blocks=acknowledge_block_findings,
                char_edit_distance=Levenshtein.distance(drafted, final) if final is not None else None,
                word_edit_distance=Levenshtein.distance(drafted.split(), final.split()) if final is not None else None,
                seconds_to_decision=(now - _aware(draft.completed_at)).total_seconds() if draft.completed_at else None,
                created_at=now,
            )
            draft.status = DraftStatus.APPROVED.value if decision == "approve" else DraftStatus.REJECTED.value
            try:
                session.flush()
            except IntegrityError as exc:
                raise ConflictError(f"Draft {draft_id} was reviewed at the same moment by someone else.") from exc
            append_audit(session, actor=reviewer, action=f"draft.{draft.status}", entity_type="draft",
                         entity_id=draft_id, details={"edited": draft.review.edited})
            return draft

        return await self.run_write(body)

    async def audit_events(self) -> list[AuditEvent]:
        """The whole audit chain in order."""
        query = select(AuditEvent).order_by(AuditEvent.seq)
        return await self.run_read(lambda session: list(session.execute(query).scalars()))

    # -- pre-generation, quick feedback and FHIR links (issue 9) ------------------------------------------------

    async def pending_generation(self, *, stale_before: datetime, limit: int = 100) -> list[str]:
        """Ids of drafts waiting for a worker: queued ones, and 'generating' ones abandoned before `stale_before`."""
        query = (select(Draft.id).where(self._claimable(stale_before))
                 .order_by(Draft.urgency_rank, Draft.message_received_at).limit(limit))
        return await self.run_read(lambda session: list(session.execute(query).scalars()))

    async def count_queued(self) -> int:
        """How many drafts wait in the queue of record (status 'queued'): the queue-depth gauge."""
        query = select(func.count()).select_from(Draft).where(Draft.status == DraftStatus.QUEUED.value)
        return await self.run_read(lambda session: int(session.execute(query).scalar_one()))

    @staticmethod
    def _claimable(stale_before: datetime) -> Any:
        started = func.coalesce(Draft.claimed_at, Draft.created_at)
        return or_(Draft.status == DraftStatus.QUEUED.value,
                   (Draft.status == DraftStatus.GENERATING.value) & (started < stale_before))

    async def claim(self, draft_id: str, *, stale_before: datetime) -> bool:
        """Atomically move a claimable draft to 'generating' for this worker; False if another one has it."""
        statement = (update(Draft).where(Draft.id == draft_id, self._claimable(stale_before))
                     .values(status=DraftStatus.GENERATING.value, claimed_at=utcnow()))
        return await self.run_write(lambda session: bool(getattr(session.execute(statement), "rowcount", 0)))

    async def release(self, draft_id: str) -> None:
        """Put a claimed draft back in the queue (its worker is stopping before it finished)."""
        statement = (update(Draft).where(Draft.id == draft_id, Draft.status == DraftStatus.GENERATING.value)
                     .values(status=DraftStatus.QUEUED.value, claimed_at=None))
        await self.run_write(lambda session: session.execute(statement))

    async def add_feedback(self, draft_id: str, *, user_id: str, user_name: str, rating: str, tags: Sequence[str],
                           comment: str | None) -> DraftFeedback:
        """Record a clinician's quick feedback on a draft (any status but superseded)."""
        def body(session: Session) -> DraftFeedback:
            if session.get(Draft, draft_id) is None:
                raise NotFoundError(f"No draft with id {draft_id}.")
            row = DraftFeedback(draft_id=draft_id, user_id=user_id, user_name=user_name, rating=rating,
                                tags=list(tags), comment=comment, created_at=utcnow())
            session.add(row)
            session.flush()
            append_audit(session, actor=user_id, action="draft.feedback", entity_type="draft",
                         entity_id=draft_id, details={"rating": rating, "tags": sorted(tags)})
            return row

        return await self.run_write(body)

    async def feedback(self, draft_id: str) -> list[DraftFeedback]:
        """All feedback on a draft, oldest first (404 for an unknown draft)."""
        def body(session: Session) -> list[DraftFeedback]:
            if session.get(Draft, draft_id) is None:
                raise NotFoundError(f"No draft with id {draft_id}.")
            query = select(DraftFeedback).where(DraftFeedback.draft_id == draft_id).order_by(DraftFeedback.created_at)
            return list(session.execute(query).scalars())

        return await self.run_read(body)

    async def fhir_communication(self, message_id: str) -> FhirCommunication | None:
        """The Communication a message arrived as, or None (unknown id or not from FHIR)."""
        return await self.run_read(lambda session: session.get(FhirCommunication, message_id))

    async def approved_reply(self, message_id: str) -> Draft | None:
        """The approved draft answering a message, loaded with its review, or None while there is none."""
        query = (select(Draft).where(Draft.message_id == message_id, Draft.status == DraftStatus.APPROVED.value)
                 .options(selectinload(Draft.message), selectinload(Draft.findings), selectinload(Draft.review))
                 .order_by(Draft.created_at.desc()).limit(1))
        return await self.run_read(lambda session: session.execute(query).scalar_one_or_none())
