"""Taking a backup: one consistent snapshot of the database and the ciphertext of every blob it names, from the
data folder or from the S3 bucket VEIL_BLOB_URL names."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from contextlib import nullcontext
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records import audit
from records import services as sv
from records.audit import Actor
from records.backup.check import check_blobs
from records.backup.files import (blob_name, copy_stream, database_kind, digest_file, libpq_env, publish,
                                  readonly_sqlite, refuse_occupied, sqlite_path, staging_beside, write_private)
from records.backup.manifest import (DATABASE_FILES, FORMAT, KEY_TOKEN, MANIFEST, BackupError, manifest_bytes,
                                     summary_of)
from records.config import Settings
from records.crypto import Keys
from records.models import Asset, AuditHead, Consent, Output, Release, User, utcnow
from records.store import BlobMissing, BlobStore, EncryptedBlobs

SNAPSHOT_ATTEMPTS = 5
_COUNTED = {"users": User, "consents": Consent, "assets": Asset, "outputs": Output, "releases": Release}


def create_backup(settings: Settings, target: Path, actor: Actor) -> dict:
    """Write a backup of the installation into `target` (new or empty), audited in the live records.
    Returns the manifest without its file list. Problems found in the records (a broken audit chain, a
    blob the records name but the store lacks) do not stop the backup, which keeps them as evidence; they
    are listed under "problems", and such a backup is refused on restore."""
    target = Path(target).absolute()
    refuse_occupied(target, "a backup goes into a new or empty folder")
    if settings.data_dir == target or settings.data_dir in target.parents:
        raise BackupError(f"{target}: inside the data folder {settings.data_dir}; a backup there is lost with it "
                          "(choose another disk or a network share)")
    if not settings.key_file.is_file():
        raise BackupError(f"no key file at {settings.key_file} (VEIL_KEY_FILE): there is no installation to back up")
    kind = database_kind(settings.database_url)
    if kind == "sqlite" and not sqlite_path(settings.database_url).is_file():
        raise BackupError(f"no database at {sqlite_path(settings.database_url)}: there is no installation to back up")
    records = sv.open_records(settings, housekeep=False)
    try:
        with staging_beside(target) as staging:
            summary = summary_of(_write_backup(records, kind, staging))
            publish(staging, target)
        with records.transaction() as session:
            audit.append(session, records.keys, actor, "backup.created", None, None,
                         blobs=summary["counts"]["blobs"], bytes=summary["bytes"],
                         audit_head_seq=summary["audit"]["head_seq"], problems=len(summary["problems"]))
    finally:
        records.close()
    return summary


def _write_backup(records: sv.Records, kind: str, staging: Path) -> dict:
    files: dict[str, dict] = {}
    (staging / "blobs").mkdir(mode=0o700)
    (staging / "database").mkdir(mode=0o700)
    database = staging / DATABASE_FILES[kind]
    for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
        # the last attempt holds deletions off while it copies, so a busy clinic cannot starve the backup
        with records.store.keeping() if attempt == SNAPSHOT_ATTEMPTS else nullcontext():
            facts = _snapshot(records, kind, database)
            referenced = facts.pop("referenced")
            missing = _copy_blobs(records.store, staging, referenced, files)
        if not missing:
            break
    problems = [] if facts["audit"]["intact"] else [f"the audit chain is broken: {facts['verdict']}"]
    if missing:
        problems.append(f"{len(missing)} blob(s) the records name are not in the store (first: "
                        f"{sorted(missing)[0][:12]}...); restoring this backup will be refused")
    try:   # what was copied opens with the key: a blob damaged in the store shows now, not on restore day
        check_blobs(BlobStore(staging / "blobs", records.keys), referenced - missing, "in the store,")
    except BackupError as exc:
        problems.append(str(exc))
    files[DATABASE_FILES[kind]] = digest_file(database)
    manifest = {
        "format": FORMAT, "created_at": utcnow().isoformat(timespec="seconds"),
        "database": {"kind": kind, "file": DATABASE_FILES[kind], "revision": facts["revision"]},
        "counts": facts["counts"], "audit": facts["audit"],
        "key": {"fingerprint": records.keys.seal(KEY_TOKEN), "included": False},
        "problems": problems, "files": dict(sorted(files.items())),
    }
    manifest["seal"] = records.keys.seal(manifest_bytes(manifest))
    write_private(staging / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def _snapshot(records: sv.Records, kind: str, database: Path) -> dict:
    """One consistent state of the database written to `database`, and what it holds."""
    database.unlink(missing_ok=True)
    if kind == "sqlite":
        sqlite_snapshot(sqlite_path(records.settings.database_url), database)
        with readonly_sqlite(database) as connection, Session(bind=connection) as session:
            return _facts(session, records.keys)
    return _postgresql_snapshot(records, database)


def sqlite_snapshot(source: Path, database: Path) -> None:
    write_private(database, b"")   # created 0600 before SQLite opens it
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(database)
        try:
            src.backup(dst)   # all pages in one step: a single read transaction, so one committed state
            dst.execute("PRAGMA journal_mode=DELETE")   # a self-contained file, with no -wal beside it
        finally:
            dst.close()
    finally:
        src.close()


def _postgresql_snapshot(records: sv.Records, database: Path) -> dict:
    """pg_dump reads the snapshot this transaction exports, and the manifest's facts come from the same one."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not on PATH: a PostgreSQL database is backed up with pg_dump (Debian package "
                          "postgresql-client, the same major version as the server or newer); nothing was written")
    engine = records.db.engine
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        done = subprocess.run([pg_dump, f"--snapshot={snapshot}", "--format=plain", "--inserts",
                               "--rows-per-insert=500", "--no-owner", "--no-privileges", f"--file={database}"],
                              env=libpq_env(records.settings.database_url), capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
            raise BackupError(f"pg_dump failed: {reason}; nothing was written")
        database.chmod(0o600)
        with Session(bind=connection) as session:
            return _facts(session, records.keys)


def _facts(session: Session, keys: Keys) -> dict:
    verdict = audit.verify(session, keys)
    head = session.get(AuditHead, audit.HEAD_ID)
    return {
        "revision": MigrationContext.configure(session.connection()).get_current_revision(),
        "counts": {name: session.scalar(select(func.count()).select_from(model)) for name, model in _COUNTED.items()},
        "audit": {"intact": verdict.ok, "events": verdict.events,
                  "head_seq": head.seq if head else 0, "head_hash": head.hash if head else audit.GENESIS},
        "verdict": verdict,
        "referenced": sv.referenced_blobs(session),   # the one list of columns that name blobs
    }


def _copy_blobs(store: EncryptedBlobs, staging: Path, referenced: set[str], files: dict) -> set[str]:
    """Copy the ciphertext of the referenced blobs not copied yet, from the data folder or the S3 bucket as
    it is (the object store never sees a key), drop copies no longer referenced; return those missing."""
    for name in [n for n in files if n.startswith("blobs/") and n.rsplit("/", 1)[1] not in referenced]:
        (staging / name).unlink()
        del files[name]
    missing = set()
    for address in sorted(referenced):
        name = blob_name(address)
        if name in files:
            continue
        try:
            with store.ciphertext(address) as source:
                files[name] = copy_stream(source, staging / name)
        except BlobMissing:
            missing.add(address)
    return missing
