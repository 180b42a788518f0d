"""The system of record: SQLAlchemy 2 models, the engine, and migrations run on start.

The same models run on SQLite (embedded default, WAL) and PostgreSQL (a `VEIL_DATABASE_URL`). Columns
ending in `_enc` hold Tink AEAD ciphertext bound to table, column and row (see `field_context`); nothing
else holds PHI. Blob columns hold store addresses (SHA-256 of the plaintext).
"""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, Integer, LargeBinary,
                        String, Text, TypeDecorator, create_engine, event, select)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATING = threading.Lock()   # Alembic's context is process-global; the database lock spans processes
ROLES = ("staff", "marketing", "auditor", "admin")
CONSENT_STATUSES = ("active", "revoked", "expired", "superseded")
RELEASE_STATUSES = ("requested", "released", "refused", "withdrawn")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
JOB_KINDS = ("deid", "housekeeping", "rerender", "consent")


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def field_context(table: str, column: str, row_id: str) -> str:
    return f"veil/{table}/{column}/{row_id}"


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict: JSON, list: JSON, bytes: LargeBinary}


def _id() -> Mapped[str]:
    return mapped_column(String(32), primary_key=True, default=new_id)


def _user_fk(nullable: bool = True) -> Mapped[Any]:
    return mapped_column(String(32), ForeignKey("users.id"), nullable=nullable)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="ck_users_role"),)

    id: Mapped[str] = _id()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (CheckConstraint(f"status IN {CONSENT_STATUSES}", name="ck_consents_status"),)

    id: Mapped[str] = _id()
    pdf_sha256: Mapped[str] = mapped_column(String(64), index=True)
    pdf_blob: Mapped[str | None] = mapped_column(String(64))           # None once past retention
    # the checker's verdict, in clear (no PHI)
    check_error: Mapped[str | None] = mapped_column(Text)
    text_source: Mapped[str] = mapped_column(String(8))
    social_media: Mapped[str] = mapped_column(String(16))
    platforms: Mapped[list] = mapped_column(default=list)
    excluded_platforms: Mapped[list] = mapped_column(default=list)
    identifiable: Mapped[str] = mapped_column(String(24))
    expires: Mapped[dt.date | None] = mapped_column(Date)
    has_expiry_event: Mapped[bool] = mapped_column(Boolean, default=False)
    signed: Mapped[bool | None] = mapped_column(Boolean)
    signature_valid: Mapped[bool | None] = mapped_column(Boolean)
    # a consent signed in Veil: the model form's version and the SHA-256 of its text (None for uploads)
    form_version: Mapped[str | None] = mapped_column(String(32))
    form_sha256: Mapped[str | None] = mapped_column(String(64))
    # PHI, encrypted: the full analysis (evidence quotes, signer names, expiry event), the patient
    analysis_enc: Mapped[bytes | None]
    patient_name_enc: Mapped[bytes | None]
    patient_ref_enc: Mapped[bytes | None]
    patient_key: Mapped[str | None] = mapped_column(String(80), index=True)   # blind index of the reference
    # the same document in another file (a re-saved copy): keyed hash of its normalised text, never the text
    text_key: Mapped[str | None] = mapped_column(String(80), index=True)
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    # this patient had revoked a consent, and this one is not known to be signed after: a person must say
    # it is a new authorization (no foreign keys on these: see migration 0002)
    after_revocation_of: Mapped[str | None] = mapped_column(String(32))
    new_authorization_by: Mapped[str | None] = mapped_column(String(32))
    new_authorization_at: Mapped[dt.datetime | None]
    # what a person confirmed, reading the quoted evidence
    confirmed_social_media: Mapped[bool | None] = mapped_column(Boolean)
    confirmed_platforms: Mapped[list | None]
    confirmed_excluded: Mapped[list | None]
    confirmed_identifiable: Mapped[str | None] = mapped_column(String(24))
    confirmed_expires: Mapped[dt.date | None] = mapped_column(Date)
    signature_attested: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_by: Mapped[str | None] = _user_fk()
    confirmed_at: Mapped[dt.datetime | None]
    # life cycle
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_changed_at: Mapped[dt.datetime | None]
    status_changed_by: Mapped[str | None] = _user_fk()
    status_note_enc: Mapped[bytes | None]                               # a revocation's stated reason
    superseded_by: Mapped[str | None] = mapped_column(String(32), ForeignKey("consents.id"))
    registered_by: Mapped[str] = _user_fk(nullable=False)
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retain_until: Mapped[dt.datetime]


class Asset(Base):
    __tablename__ = "assets"

    id: Mapped[str] = _id()
    kind: Mapped[str] = mapped_column(String(8))                       # image | video
    format: Mapped[str] = mapped_column(String(16))
    original_sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_blob: Mapped[str | None] = mapped_column(String(64))      # None once deleted
    original_size: Mapped[int] = mapped_column(Integer)
    original_name_enc: Mapped[bytes | None]
    filename_warnings: Mapped[list] = mapped_column(default=list)     # descriptions, never the name
    uploaded_by: Mapped[str] = _user_fk(nullable=False)
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delete_original_after: Mapped[dt.datetime]
    original_deleted_at: Mapped[dt.datetime | None]
    consent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("consents.id"), index=True)
    patient_confirmed_by: Mapped[str | None] = _user_fk()             # the consent is this patient's
    patient_confirmed_at: Mapped[dt.datetime | None]


class Output(Base):
    __tablename__ = "outputs"

    id: Mapped[str] = _id()
    asset_id: Mapped[str] = mapped_column(String(32), ForeignKey("assets.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("outputs.id"))  # re-render of
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(64))              # opaque: random hex + extension
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    blob: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    phash: Mapped[str | None] = mapped_column(String(32))
    frame_hashes: Mapped[list | None]
    profile_id: Mapped[str | None] = mapped_column(String(64))
    profile_sha256: Mapped[str | None] = mapped_column(String(64))
    keeps_faces: Mapped[bool] = mapped_column(Boolean, default=False)
    regions: Mapped[list] = mapped_column(default=list)
    region_kinds: Mapped[list | None]   # photos: "face", "text", "code" or "manual" per region; None before 0005
    regions_added: Mapped[list] = mapped_column(default=list)
    regions_removed: Mapped[list] = mapped_column(default=list)
    frames: Mapped[int | None] = mapped_column(Integer)
    frames_with_regions: Mapped[int | None] = mapped_column(Integer)
    removed_tags: Mapped[list] = mapped_column(default=list)
    metadata_clean: Mapped[bool] = mapped_column(Boolean, default=False)
    faces_left: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # the consent whose patient's name and reference were read for on this output (photos; None: none was linked
    # when it was rendered, or not known before 0007): the gate asks for a new reading when the media's differs
    identifiers_consent_id: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = _user_fk(nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = _user_fk()
    reviewed_at: Mapped[dt.datetime | None]


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (CheckConstraint(f"status IN {RELEASE_STATUSES}", name="ck_releases_status"),)

    id: Mapped[str] = _id()
    output_id: Mapped[str] = mapped_column(String(32), ForeignKey("outputs.id"), index=True)
    consent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("consents.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[str] = _user_fk(nullable=False)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = _user_fk()
    decided_at: Mapped[dt.datetime | None]
    reasons: Mapped[list] = mapped_column(default=list)
    post_url: Mapped[str | None] = mapped_column(Text)
    takedown: Mapped[str | None] = mapped_column(String(8))          # None | pending | done
    takedown_at: Mapped[dt.datetime | None]
    takedown_by: Mapped[str | None] = _user_fk()


class ConsentReading(Base):
    """A consent PDF waiting for a worker to read it (a "consent" job): its blob and the patient it was
    uploaded for, encrypted, and the media to link to the consent it becomes (record ids); removed when the job
    ends (the consent registered then holds what is kept)."""

    __tablename__ = "consent_readings"

    id: Mapped[str] = _id()
    pdf_blob: Mapped[str] = mapped_column(String(64))
    patient_name_enc: Mapped[bytes]
    patient_ref_enc: Mapped[bytes]
    signed_in_veil: Mapped[dict | None]      # a consent signed in Veil: the form version and signing's facts
    link_assets: Mapped[list | None] = mapped_column(JSON)   # ids of media kept with it, linked once registered
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Job(Base):
    """Work done by a worker process, not by a page: the UI, the CLI and the audit log read this row. It
    holds record ids, states and reasons, never PHI; the queue itself carries only wake-ups."""

    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint(f"state IN {JOB_STATES}", name="ck_jobs_state"),
                      CheckConstraint(f"kind IN {JOB_KINDS}", name="ck_jobs_kind"))

    id: Mapped[str] = _id()
    kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str | None] = _user_fk()                        # None: the installation (housekeeping)
    asset_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("assets.id"), index=True)
    profile: Mapped[str | None] = mapped_column(String(64))
    output_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("outputs.id"))
    replaces_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("outputs.id",    # a re-render's
                                                                           name="fk_jobs_replaces_id"))
    regions: Mapped[dict | None] = mapped_column(JSON)               # a re-render's {"added", "removed"} boxes
    reading_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("consent_readings.id",   # a consent
                                                                          name="fk_jobs_reading_id"))
    consent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("consents.id",   # what it registered
                                                                          name="fk_jobs_consent_id"))
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str | None] = mapped_column(String(80))            # the engine's own words, no PHI
    error: Mapped[str | None] = mapped_column(Text)                  # the reason, without PHI
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(80))           # host:pid of the worker running it
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class AuditEvent(Base):
    """Append-only; `hash` covers every other column and the previous event's hash (see records.audit)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))                     # ISO 8601 UTC, hashed as written
    actor: Mapped[str] = mapped_column(String(80))
    actor_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(48), index=True)
    subject_kind: Mapped[str | None] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[str] = mapped_column(Text)                      # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(128))


class AuditHead(Base):
    """One row: where the chain ends, sealed, so cutting events off the end shows."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(128))


class Installation(Base):
    """One row: a MAC made with this installation's key, so a database opened with the wrong key file is
    refused before anything is written with that key."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_check: Mapped[str] = mapped_column(String(128))
    # the installation's own certificate for sealing consents signed in Veil (records.signing): the
    # certificate in clear (DER), its private key encrypted with the field key
    signing_cert: Mapped[bytes | None]
    signing_key_enc: Mapped[bytes | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# -- engine ----------------------------------------------------------------------------------------
class Database:
    """An engine and its sessions; `transaction()` is the only way services write."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(veil_reading=True), expire_on_commit=False)
        event.listen(self._readers, "before_flush", _refuse_writes)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads. On SQLite it is deferred: in WAL mode it reads a snapshot without
        the write lock, so a long read (verifying the chain, listing every record) never holds writers up."""
        with self._readers.begin() as session:
            yield session

    def migrate(self) -> None:
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _refuse_writes(session: Session, *_) -> None:
    raise RuntimeError("a reading transaction cannot write; use Database.transaction()")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_begin(conn) -> None:
    """Writers take the write lock when their transaction starts, so two never both read the audit head and
    none fails half-way when it would upgrade a read lock; readers take none."""
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("veil_reading") else "BEGIN IMMEDIATE")


def _sqlite_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None   # SQLAlchemy's begin event issues BEGIN IMMEDIATE itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")     # a committed release survives a power cut
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic), inside one transaction."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _MIGRATING, engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def user_by_name(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))
