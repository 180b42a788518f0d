"""Files, folders and databases as a backup writes and reads them: private, fsynced, renamed into place."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from deid.models import sha256_file
from records.backup.manifest import DATABASE_FILES, BackupError
from records.crypto import KeyFileError, Keys
from deid.output import fsync_path
from records.store import CHUNK


def existing_keys(key_file: Path) -> Keys:
    """The key file as it is; never a new one (a new key opens nothing)."""
    if not Path(key_file).is_file():
        raise BackupError(f"no key file at {key_file} (VEIL_KEY_FILE): copy the key file kept offline there "
                          "(chmod 600) first; a backup cannot be read without it")
    try:
        return Keys.load_or_create(Path(key_file))
    except KeyFileError as exc:
        raise BackupError(str(exc)) from None


def refuse_occupied(folder: Path, why: str) -> None:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise BackupError(f"{folder}: exists and is not a folder; {why}")
    if folder.is_dir():
        entries = sum(1 for _ in folder.iterdir())   # counted, not named: a stray file's name may name a patient
        if entries:
            raise BackupError(f"{folder}: not empty ({entries} entr{'y' if entries == 1 else 'ies'}); {why}")


@contextmanager
def staging_beside(final: Path) -> Iterator[Path]:
    """A private hidden folder beside `final`, on the same file system so it can be renamed into place;
    removed if anything fails (after publishing, nothing is left to remove)."""
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = final.parent / f".{final.name}.partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir(mode=0o700)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, final: Path) -> None:
    """Rename the finished folder into place; rename(2) replaces an empty folder and refuses a full one."""
    for path in [staging, *staging.rglob("*")]:
        if path.is_dir():
            path.chmod(0o700)
            fsync_path(path)
    try:
        os.rename(staging, final)
    except OSError as exc:
        raise BackupError(f"{final}: cannot be put in place ({exc.strerror}); it must be empty or absent") from None
    fsync_path(final.parent)


def copy_file(source: Path, target: Path) -> dict:
    """Copy, hashing on the way, into a new 0600 file; the hash is of what was written."""
    with open(source, "rb") as src:
        return copy_stream(src, target)


def copy_stream(src: BinaryIO, target: Path) -> dict:
    """Write what `src` holds into a new 0600 file, hashing on the way; the hash is of what was written."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return {"sha256": digest.hexdigest(), "size": size}


def digest_file(path: Path) -> dict:
    try:
        return {"sha256": sha256_file(path), "size": path.stat().st_size}
    except FileNotFoundError:
        return {}


def write_private(path: Path, data: bytes) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def blob_name(address: str) -> str:
    return f"blobs/{address[:2]}/{address}"


def database_kind(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in DATABASE_FILES:
        raise BackupError(f"VEIL_DATABASE_URL names a {name} database; backup knows SQLite and PostgreSQL")
    return name


def sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "").absolute()


@contextmanager
def readonly_sqlite(path: Path) -> Iterator[Connection]:
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


def libpq_env(url: str) -> dict:
    """pg_dump's connection, passed in the environment so the password never shows in a process list."""
    parsed = make_url(url)
    env = {"PGHOST": parsed.host or parsed.query.get("host"), "PGPORT": parsed.port and str(parsed.port),
           "PGUSER": parsed.username, "PGPASSWORD": parsed.password, "PGDATABASE": parsed.database}
    return {**os.environ, **{k: str(v) for k, v in env.items() if v}}
