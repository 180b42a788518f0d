"""Backups of the records, and restore into an empty data folder, checked before anything appears.

A backup folder holds:

    manifest.json        format, schema revision, counts, SHA-256 and size of every file, the audit head,
                         the key's fingerprint (a MAC of a fixed text: it names the key, reveals nothing of
                         it), sealed with the installation's MAC key so nobody without the key can edit it to
                         match altered files. No PHI: ids, counts and hashes only.
    database/veil.db     SQLite: a snapshot by the online backup API, one consistent state while Veil writes.
    database/veil.sql    PostgreSQL: pg_dump of an exported snapshot, the same one the manifest describes.
    blobs/ab/ab12...     the ciphertext of every blob that snapshot references, copied as it is.

The key is never in a backup: a backup left on a shared drive is useless to whoever finds it. The key file
is kept offline once (it never changes); `verify_backup` says whether a key file opens a backup.

Only referenced blobs are copied: an unreferenced blob is another process's upload whose record is not in
the snapshot, or an orphan housekeeping will remove, so it could not be restored as anything. That keeps
one rule to check on restore: the blobs present are exactly the blobs the records reference.

Blobs are deleted only after the transaction that stops referencing them commits, so a blob the snapshot
names may vanish before it is copied; the snapshot is then taken again (its newer state no longer names it),
and the last attempt holds deletions off (the store's `keeping` lock) while it copies.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, make_url, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from records import audit
from records import services as sv
from records.audit import Actor
from records.config import Settings
from records.crypto import DecryptionError, KeyFileError, Keys
from records.models import Asset, AuditHead, Consent, Output, Release, User, utcnow
from records.store import CHUNK, BlobMissing, BlobStore, fsync_dir
from deid.models import sha256_file

FORMAT = "veil-backup-1"
MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database/veil.db", "postgresql": "database/veil.sql"}
SNAPSHOT_ATTEMPTS = 5
_KEY_TOKEN = b"veil/backup/key-fingerprint"
_BLOB_NAME = re.compile(r"blobs/([0-9a-f]{2})/\1[0-9a-f]{62}")
_COUNTED = {"users": User, "consents": Consent, "assets": Asset, "outputs": Output, "releases": Release}


class BackupError(RuntimeError):
    """A backup cannot be made, checked or restored; the message names the folder or file and says why."""


# -- taking a backup -----------------------------------------------------------------------------------------
def create_backup(settings: Settings, target: Path, actor: Actor) -> dict:
    """Write a backup of the installation into `target` (new or empty), audited in the live records.
    Returns the manifest without its file list. Problems found in the records (a broken audit chain, a
    blob the records name but the store lacks) do not stop the backup, which keeps them as evidence; they
    are listed under "problems", and such a backup is refused on restore."""
    target = Path(target).absolute()
    _refuse_occupied(target, "a backup goes into a new or empty folder")
    if settings.data_dir == target or settings.data_dir in target.parents:
        raise BackupError(f"{target}: inside the data folder {settings.data_dir}; a backup there is lost with it "
                          "(choose another disk or a network share)")
    if not settings.key_file.is_file():
        raise BackupError(f"no key file at {settings.key_file} (VEIL_KEY_FILE): there is no installation to back up")
    kind = _kind(settings.database_url)
    if kind == "sqlite" and not _sqlite_path(settings.database_url).is_file():
        raise BackupError(f"no database at {_sqlite_path(settings.database_url)}: there is no installation to back up")
    records = sv.open_records(settings, housekeep=False)
    try:
        with _staging(target) as staging:
            summary = _summary(_write_backup(records, kind, staging))
            _publish(staging, target)
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
            missing = _copy_blobs(records.store.root, staging, referenced, files)
        if not missing:
            break
    problems = [] if facts["audit"]["intact"] else [f"the audit chain is broken: {facts['verdict']}"]
    if missing:
        problems.append(f"{len(missing)} blob(s) the records name are not in the store (first: "
                        f"{sorted(missing)[0][:12]}...); restoring this backup will be refused")
    try:   # what was copied opens with the key: a blob damaged in the store shows now, not on restore day
        _check_blobs(BlobStore(staging / "blobs", records.keys), referenced - missing, "in the store,")
    except BackupError as exc:
        problems.append(str(exc))
    files[DATABASE_FILES[kind]] = _digest_file(database)
    manifest = {
        "format": FORMAT, "created_at": utcnow().isoformat(timespec="seconds"),
        "database": {"kind": kind, "file": DATABASE_FILES[kind], "revision": facts["revision"]},
        "counts": facts["counts"], "audit": facts["audit"],
        "key": {"fingerprint": records.keys.seal(_KEY_TOKEN), "included": False},
        "problems": problems, "files": dict(sorted(files.items())),
    }
    manifest["seal"] = records.keys.seal(_manifest_bytes(manifest))
    _write_private(staging / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def _snapshot(records: sv.Records, kind: str, database: Path) -> dict:
    """One consistent state of the database written to `database`, and what it holds."""
    database.unlink(missing_ok=True)
    if kind == "sqlite":
        _sqlite_snapshot(_sqlite_path(records.settings.database_url), database)
        with _readonly_sqlite(database) as connection, Session(bind=connection) as session:
            return _facts(session, records.keys)
    return _postgresql_snapshot(records, database)


def _sqlite_snapshot(source: Path, database: Path) -> None:
    _write_private(database, b"")   # created 0600 before SQLite opens it
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
                              env=_libpq_env(records.settings.database_url), capture_output=True, text=True)
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


def _copy_blobs(store_root: Path, staging: Path, referenced: set[str], files: dict) -> set[str]:
    """Copy the referenced blobs not copied yet, drop copies no longer referenced; return those missing."""
    for name in [n for n in files if n.startswith("blobs/") and n.rsplit("/", 1)[1] not in referenced]:
        (staging / name).unlink()
        del files[name]
    missing = set()
    for address in sorted(referenced):
        name = _blob_name(address)
        if name in files:
            continue
        try:
            files[name] = _copy_file(store_root / address[:2] / address, staging / name)
        except FileNotFoundError:
            missing.add(address)
    return missing


# -- checking a backup ---------------------------------------------------------------------------------------
def verify_backup(folder: Path, key_file: Path) -> dict:
    """Everything restore would check, in place and read-only: the key opens this backup, the manifest is
    sealed, every file matches its hash, the database's audit chain verifies and ends where the manifest
    says (SQLite; a PostgreSQL dump is checked by its hash here and loaded on restore), every blob decrypts."""
    folder = Path(folder).absolute()
    keys = _existing_keys(key_file)
    manifest = _read_manifest(folder, keys, key_file)
    _check_listing(folder, manifest)
    for name, entry in manifest["files"].items():
        if _digest_file(folder / name) != entry:
            raise BackupError(_altered(folder / name))
    _refuse_problems(folder, manifest)
    store = BlobStore(folder / "blobs", keys)
    if manifest["database"]["kind"] == "sqlite":
        with _readonly_sqlite(folder / manifest["database"]["file"]) as connection, \
                Session(bind=connection) as session:
            _check_records(session, keys, store, manifest, folder)
    else:
        _check_blobs(store, _blob_addresses(manifest), f"{folder}:")
    return _summary(manifest)


def _check_records(session: Session, keys: Keys, store: BlobStore, manifest: dict, folder: Path) -> None:
    """The database is the one the manifest describes, its chain verifies, and its blobs are all there and
    decrypt to the content their addresses promise."""
    verdict = audit.verify(session, keys)
    if not verdict.ok:
        raise BackupError(f"{folder}: {verdict}")
    head = session.get(AuditHead, audit.HEAD_ID)
    if (head.seq, head.hash) != (manifest["audit"]["head_seq"], manifest["audit"]["head_hash"]):
        raise BackupError(f"{folder}: the database's audit chain ends at event {head.seq}, the manifest says "
                          f"{manifest['audit']['head_seq']}: it is not the database this backup was made of")
    referenced, present = sv.referenced_blobs(session), _blob_addresses(manifest)
    if referenced - present:
        raise BackupError(f"{folder}: {len(referenced - present)} blob(s) the records name are not in the backup")
    if present - referenced:
        raise BackupError(f"{folder}: the backup holds {len(present - referenced)} blob(s) its records do not name")
    _check_blobs(store, referenced, f"{folder}:")


def _check_blobs(store: BlobStore, addresses: set[str], where) -> None:
    """Each blob decrypts with the key to the content its address promises; the first that does not is named."""
    for address in sorted(addresses):
        try:
            store.verify(address)
        except (DecryptionError, BlobMissing):
            raise BackupError(f"{where} blob {address[:12]}... does not decrypt with this key to the content its "
                              "name promises: it was altered or damaged") from None


# -- restoring -----------------------------------------------------------------------------------------------
def restore_backup(folder: Path, settings: Settings, actor: Actor) -> dict:
    """Restore a backup into the installation `settings` describe: an empty (or absent) data folder, and an
    empty database. The key file must already be in place (copied from where it is kept offline).

    Every file is copied into a hidden folder beside the data folder and checked against the manifest
    while it is copied; the database is opened there, its key check, audit chain and blobs verified, and
    the restore recorded in its audit log; only then is the folder renamed into place. On PostgreSQL the
    dump is loaded, checked and recorded in one transaction, committed last. Any failure leaves nothing."""
    folder = Path(folder).absolute()
    keys = _existing_keys(settings.key_file)
    manifest = _read_manifest(folder, keys, settings.key_file)
    _check_listing(folder, manifest)
    _refuse_problems(folder, manifest)
    kind = _kind(settings.database_url)
    if kind != manifest["database"]["kind"]:
        raise BackupError(f"{folder}: this backup holds a {manifest['database']['kind']} database but "
                          f"VEIL_DATABASE_URL names a {kind} one; restore into the same kind of database")
    data_dir = settings.data_dir
    _refuse_occupied(data_dir, "restore only into an empty data folder; move the current one aside first")
    if kind == "sqlite":
        database = _sqlite_path(settings.database_url)
        if data_dir not in database.parents:
            raise BackupError(f"VEIL_DATABASE_URL names {database}, outside the data folder {data_dir}; restore "
                              "needs the SQLite database inside the data folder (the default)")
    else:
        _refuse_filled_postgresql(settings.database_url)
    with _staging(data_dir) as staging:
        for name, entry in manifest["files"].items():
            into = staging / (name if name.startswith("blobs/") else _restored_name(settings, name))
            if _copy_file(folder / name, into) != entry:
                raise BackupError(_altered(folder / name) + "; nothing was restored")
        details = {"backup_created_at": manifest["created_at"], "backup_head_seq": manifest["audit"]["head_seq"],
                   "manifest_seal": manifest["seal"][:16]}
        if kind == "sqlite":
            _restore_sqlite(settings, staging, keys, manifest, folder, actor, details)
            _publish(staging, data_dir)
        else:
            _restore_postgresql(settings, staging, keys, manifest, folder, actor, details)
    return _summary(manifest)


def _restored_name(settings: Settings, name: str) -> str:
    """Where a backup's database file goes within the staged data folder."""
    if _kind(settings.database_url) == "sqlite":
        return str(_sqlite_path(settings.database_url).relative_to(settings.data_dir))
    return f".restore-{Path(name).name}"   # the dump: loaded, then removed before the folder is published


def _restore_sqlite(settings, staging, keys, manifest, folder, actor, details) -> None:
    database = staging / _restored_name(settings, manifest["database"]["file"])
    staged = settings.with_(data_dir=staging, database_url=f"sqlite:///{database}")
    try:
        records = sv.open_records(staged, housekeep=False)   # migrates an older schema, checks the key
    except KeyFileError:
        raise _wrong_key(settings, folder) from None
    try:
        with records.transaction() as session:
            _check_records(session, keys, records.store, manifest, folder)
            audit.append(session, keys, actor, "backup.restored", None, None, **details)
    finally:
        records.close()


def _restore_postgresql(settings, staging, keys, manifest, folder, actor, details) -> None:
    dump = staging / _restored_name(settings, manifest["database"]["file"])
    script = _without_psql_guard(dump.read_text(encoding="utf-8"))
    dump.unlink()
    engine = create_engine(settings.database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            with connection.connection.driver_connection.cursor() as cursor:
                cursor.execute(script)   # one transaction with the checks below: nothing stays if they fail
            connection.exec_driver_sql("RESET search_path")   # the dump empties it for its own statements
            with Session(bind=connection) as session:
                _check_key(session, keys, settings, folder)
                _check_records(session, keys, BlobStore(staging / "blobs", keys), manifest, folder)
                audit.append(session, keys, actor, "backup.restored", None, None, **details)
                session.flush()
            _publish(staging, settings.data_dir)
            try:
                connection.commit()
            except BaseException:
                shutil.rmtree(settings.data_dir, ignore_errors=True)   # it was empty or absent before
                raise
    finally:
        engine.dispose()
    sv.open_records(settings, housekeep=False).close()   # bring an older schema up to date


def _without_psql_guard(script: str) -> str:
    """Newer pg_dump wraps a plain dump in psql's `\\restrict TOKEN` ... `\\unrestrict TOKEN` (meta-commands
    that keep data from running as psql commands); the script runs here as SQL, so the pair is dropped."""
    head, _, rest = script.partition("\n\\restrict ")
    if not rest:
        return script
    token, _, body = rest.partition("\n")
    body, _, tail = body.rpartition(f"\n\\unrestrict {token}\n")
    return f"{head}\n{body}\n{tail}"


def _check_key(session: Session, keys: Keys, settings: Settings, folder: Path) -> None:
    try:
        sv.check_key(session, keys, settings)
    except KeyFileError:
        raise _wrong_key(settings, folder) from None


def _wrong_key(settings: Settings, folder: Path) -> BackupError:
    return BackupError(f"{folder}: the key file {settings.key_file} does not belong to the backup's database; "
                       "nothing was restored")


def _refuse_filled_postgresql(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupError(f"the database VEIL_DATABASE_URL names already holds {len(tables)} table(s); restore "
                          "only into an empty database (create a new one)")


# -- the manifest --------------------------------------------------------------------------------------------
def _read_manifest(folder: Path, keys: Keys, key_file: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupError(f"{folder}: no such backup folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path}: missing; this folder is not a Veil backup") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackupError(f"{path}: cannot be read ({type(exc).__name__}); the manifest is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not a manifest this Veil can read (it expects format {FORMAT})")
    if not keys.seal_holds((manifest.get("key") or {}).get("fingerprint"), _KEY_TOKEN):
        raise BackupError(f"{folder}: the key file {key_file} is not the key this backup was made with (or the "
                          "manifest was altered); use the key file kept for this installation")
    if not keys.seal_holds(manifest.get("seal"), _manifest_bytes(manifest)):
        raise BackupError(f"{path}: its seal does not hold: the manifest was altered after the backup was made")
    database = DATABASE_FILES.get((manifest.get("database") or {}).get("kind"))
    strange = [name for name in manifest.get("files", {}) if name != database and not _BLOB_NAME.fullmatch(name)]
    if database is None or strange:
        raise BackupError(f"{path}: lists files a Veil backup does not hold; refused")
    return manifest


def _manifest_bytes(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "seal"}
    return b"veil/backup/manifest\0" + audit.canonical(body).encode("ascii")


def _check_listing(folder: Path, manifest: dict) -> None:
    listed = set(manifest["files"])
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()} - {MANIFEST}
    if listed - present:
        raise BackupError(f"{folder / sorted(listed - present)[0]}: missing from the backup "
                          f"({len(listed - present)} file(s) the manifest lists are absent)")
    if present - listed:   # counted, not named: a stray file's name may name a patient
        raise BackupError(f"{folder}: holds {len(present - listed)} file(s) not in the manifest; a backup holds "
                          "only the files its manifest lists")


def _refuse_problems(folder: Path, manifest: dict) -> None:
    if manifest["problems"]:
        raise BackupError(f"{folder}: this backup was made of damaged records ({'; '.join(manifest['problems'])}); "
                          "it is kept as evidence and cannot be restored as a working installation")


def _blob_addresses(manifest: dict) -> set[str]:
    return {name.rsplit("/", 1)[1] for name in manifest["files"] if name.startswith("blobs/")}


def _summary(manifest: dict) -> dict:
    """The manifest without its file list and seal, with the totals that list adds up to."""
    return {k: v for k, v in manifest.items() if k not in ("files", "seal")} | {
        "counts": manifest["counts"] | {"audit_events": manifest["audit"]["events"],
                                        "blobs": len(_blob_addresses(manifest))},
        "bytes": sum(entry["size"] for entry in manifest["files"].values()),
        "key_fingerprint": manifest["key"]["fingerprint"][:16]}


def _altered(path: Path) -> str:
    return f"{path}: its SHA-256 or size differs from the manifest: the file was altered or damaged"


# -- files and folders ---------------------------------------------------------------------------------------
def _existing_keys(key_file: Path) -> Keys:
    """The key file as it is; never a new one (a new key opens nothing)."""
    if not Path(key_file).is_file():
        raise BackupError(f"no key file at {key_file} (VEIL_KEY_FILE): copy the key file kept offline there "
                          "(chmod 600) first; a backup cannot be read without it")
    try:
        return Keys.load_or_create(Path(key_file))
    except KeyFileError as exc:
        raise BackupError(str(exc)) from None


def _refuse_occupied(folder: Path, why: str) -> None:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise BackupError(f"{folder}: exists and is not a folder; {why}")
    if folder.is_dir():
        entries = sum(1 for _ in folder.iterdir())   # counted, not named: a stray file's name may name a patient
        if entries:
            raise BackupError(f"{folder}: not empty ({entries} entr{'y' if entries == 1 else 'ies'}); {why}")


@contextmanager
def _staging(final: Path) -> Iterator[Path]:
    """A private hidden folder beside `final`, on the same file system so it can be renamed into place;
    removed if anything fails (after publishing, nothing is left to remove)."""
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = final.parent / f".{final.name}.partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir(mode=0o700)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, final: Path) -> None:
    """Rename the finished folder into place; rename(2) replaces an empty folder and refuses a full one."""
    for path in [staging, *staging.rglob("*")]:
        if path.is_dir():
            path.chmod(0o700)
            fsync_dir(path)
    try:
        os.rename(staging, final)
    except OSError as exc:
        raise BackupError(f"{final}: cannot be put in place ({exc.strerror}); it must be empty or absent") from None
    fsync_dir(final.parent)


def _copy_file(source: Path, target: Path) -> dict:
    """Copy, hashing on the way, into a new 0600 file; the hash is of what was written."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return {"sha256": digest.hexdigest(), "size": size}


def _digest_file(path: Path) -> dict:
    try:
        return {"sha256": sha256_file(path), "size": path.stat().st_size}
    except FileNotFoundError:
        return {}


def _write_private(path: Path, data: bytes) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _blob_name(address: str) -> str:
    return f"blobs/{address[:2]}/{address}"


# -- databases -----------------------------------------------------------------------------------------------
def _kind(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in DATABASE_FILES:
        raise BackupError(f"VEIL_DATABASE_URL names a {name} database; backup knows SQLite and PostgreSQL")
    return name


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "").absolute()


@contextmanager
def _readonly_sqlite(path: Path) -> Iterator[Connection]:
    """A snapshot opened so that nothing, not even a lock or journal file, is written beside it."""
    uri = f"{path.absolute().as_uri()}?mode=ro&immutable=1"
    engine: Engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    except (sqlite3.DatabaseError, DBAPIError) as exc:
        raise BackupError(f"{path}: not a readable SQLite database ({type(exc).__name__})") from None
    finally:
        engine.dispose()


def _libpq_env(url: str) -> dict:
    """pg_dump's connection, passed in the environment so the password never shows in a process list."""
    parsed = make_url(url)
    env = {"PGHOST": parsed.host or parsed.query.get("host"), "PGPORT": parsed.port and str(parsed.port),
           "PGUSER": parsed.username, "PGPASSWORD": parsed.password, "PGDATABASE": parsed.database}
    return {**os.environ, **{k: str(v) for k, v in env.items() if v}}
