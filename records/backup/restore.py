"""Restoring a backup into an empty data folder and an empty database, checked before it appears; the blobs
go into the data folder, or into the S3 bucket VEIL_BLOB_URL names (empty), as the target's settings say."""
from __future__ import annotations

import shutil
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, inspect
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from records import audit
from records import services as sv
from records.audit import Actor
from records.backup.check import check_records
from records.backup.files import (copy_file, database_kind, existing_keys, publish, refuse_occupied, sqlite_path,
                                  staging_beside)
from records.backup.manifest import BackupError, altered, check_listing, read_manifest, refuse_problems, summary_of
from records.config import Settings
from records.crypto import KeyFileError, Keys
from records.blob_s3 import S3BlobStore
from records.store import BlobStore


def restore_backup(folder: Path, settings: Settings, actor: Actor) -> dict:
    """Restore a backup into the installation `settings` describe: an empty (or absent) data folder, and an
    empty database. The key file must already be in place (copied from where it is kept offline).

    Every file is copied into a hidden folder beside the data folder and checked against the manifest
    while it is copied; the database is opened there, its key check, audit chain and blobs verified, and
    the restore recorded in its audit log; only then is the folder renamed into place. On PostgreSQL the
    dump is loaded, checked and recorded in one transaction, committed last. Any failure leaves nothing."""
    folder = Path(folder).absolute()
    keys = existing_keys(settings.key_file)
    manifest = read_manifest(folder, keys, settings.key_file)
    check_listing(folder, manifest)
    refuse_problems(folder, manifest)
    kind = database_kind(settings.database_url)
    if kind != manifest["database"]["kind"]:
        raise BackupError(f"{folder}: this backup holds a {manifest['database']['kind']} database but "
                          f"VEIL_DATABASE_URL names a {kind} one; restore into the same kind of database")
    data_dir = settings.data_dir
    refuse_occupied(data_dir, "restore only into an empty data folder; move the current one aside first")
    if kind == "sqlite":
        database = sqlite_path(settings.database_url)
        if data_dir not in database.parents:
            raise BackupError(f"VEIL_DATABASE_URL names {database}, outside the data folder {data_dir}; restore "
                              "needs the SQLite database inside the data folder (the default)")
    else:
        _refuse_filled_postgresql(settings.database_url)
    bucket = _empty_bucket(settings, keys)
    with staging_beside(data_dir) as staging:
        for name, entry in manifest["files"].items():
            into = staging / (name if name.startswith("blobs/") else _restored_name(settings, name))
            if copy_file(folder / name, into) != entry:
                raise BackupError(altered(folder / name) + "; nothing was restored")
        details = {"backup_created_at": manifest["created_at"], "backup_head_seq": manifest["audit"]["head_seq"],
                   "manifest_seal": manifest["seal"][:16]}
        if kind == "sqlite":
            _restore_sqlite(settings, staging, keys, manifest, folder, actor, details)
            with _blobs_into(bucket, staging):
                publish(staging, data_dir)
        else:
            _restore_postgresql(settings, staging, keys, manifest, folder, actor, details, bucket)
    return summary_of(manifest)


def _restored_name(settings: Settings, name: str) -> str:
    """Where a backup's database file goes within the staged data folder."""
    if database_kind(settings.database_url) == "sqlite":
        return str(sqlite_path(settings.database_url).relative_to(settings.data_dir))
    return f".restore-{Path(name).name}"   # the dump: loaded, then removed before the folder is published


def _restore_sqlite(settings, staging, keys, manifest, folder, actor, details) -> None:
    database = staging / _restored_name(settings, manifest["database"]["file"])
    # blob_url=None: the blobs are checked where they were staged, before any goes into a bucket
    staged = settings.with_(data_dir=staging, database_url=f"sqlite:///{database}", blob_url=None)
    try:
        records = sv.open_records(staged, housekeep=False)   # migrates an older schema, checks the key
    except KeyFileError:
        raise _wrong_key(settings, folder) from None
    try:
        with records.transaction() as session:
            check_records(session, keys, records.store, manifest, folder)
            audit.append(session, keys, actor, "backup.restored", None, None, **details)
    finally:
        records.close()


def _restore_postgresql(settings, staging, keys, manifest, folder, actor, details, bucket) -> None:
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
                check_records(session, keys, BlobStore(staging / "blobs", keys), manifest, folder)
                audit.append(session, keys, actor, "backup.restored", None, None, **details)
                session.flush()
            with _blobs_into(bucket, staging):
                publish(staging, settings.data_dir)
                try:
                    connection.commit()
                except BaseException:
                    shutil.rmtree(settings.data_dir, ignore_errors=True)   # it was empty or absent before
                    raise
    finally:
        engine.dispose()
    sv.open_records(settings, housekeep=False).close()   # bring an older schema up to date


def _empty_bucket(settings: Settings, keys: Keys) -> S3BlobStore | None:
    """The S3 bucket (and prefix) VEIL_BLOB_URL names, refused unless it holds no blob; None: the blobs go into
    the data folder."""
    if not settings.blob_url:
        return None
    bucket = S3BlobStore(settings.blob_url, keys, None, settings.work_dir)   # puts ciphertext only: no lock
    if next(iter(bucket.addresses()), None) is not None:
        raise BackupError(f"{settings.blob_url} already holds blobs (VEIL_BLOB_URL); restore only into an empty "
                          "bucket or prefix")
    return bucket


@contextmanager
def _blobs_into(bucket: S3BlobStore | None, staging: Path) -> Iterator[None]:
    """With a bucket: put the checked blobs' ciphertext there as it is, and leave none in the data folder
    about to be published; if the block then fails, the blobs put there are deleted again."""
    if bucket is None:
        yield
        return
    placed = []
    try:
        for path in sorted((staging / "blobs").glob("??/*")):
            bucket.put_ciphertext(path.name, path)
            placed.append(path.name)
        shutil.rmtree(staging / "blobs")
        yield
    except BaseException:
        for address in placed:
            with suppress(OSError):
                bucket.delete(address)
        raise


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
