"""Checking a backup in place: the key opens it, the seal holds, every file, the chain and every blob."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from records import audit
from records import services as sv
from records.backup.files import digest_file, existing_keys, readonly_sqlite
from records.backup.manifest import (BackupError, altered, blob_addresses, check_listing, read_manifest,
                                     refuse_problems, summary_of)
from records.crypto import DecryptionError, Keys
from records.models import AuditHead
from records.store import BlobMissing, BlobStore


def verify_backup(folder: Path, key_file: Path) -> dict:
    """Everything restore would check, in place and read-only: the key opens this backup, the manifest is
    sealed, every file matches its hash, the database's audit chain verifies and ends where the manifest
    says (SQLite; a PostgreSQL dump is checked by its hash here and loaded on restore), every blob decrypts."""
    folder = Path(folder).absolute()
    keys = existing_keys(key_file)
    manifest = read_manifest(folder, keys, key_file)
    check_listing(folder, manifest)
    for name, entry in manifest["files"].items():
        if digest_file(folder / name) != entry:
            raise BackupError(altered(folder / name))
    refuse_problems(folder, manifest)
    store = BlobStore(folder / "blobs", keys)
    if manifest["database"]["kind"] == "sqlite":
        with readonly_sqlite(folder / manifest["database"]["file"]) as connection, \
                Session(bind=connection) as session:
            check_records(session, keys, store, manifest, folder)
    else:
        check_blobs(store, blob_addresses(manifest), f"{folder}:")
    return summary_of(manifest)


def check_records(session: Session, keys: Keys, store: BlobStore, manifest: dict, folder: Path) -> None:
    """The database is the one the manifest describes, its chain verifies, and its blobs are all there and
    decrypt to the content their addresses promise."""
    verdict = audit.verify(session, keys)
    if not verdict.ok:
        raise BackupError(f"{folder}: {verdict}")
    head = session.get(AuditHead, audit.HEAD_ID)
    if (head.seq, head.hash) != (manifest["audit"]["head_seq"], manifest["audit"]["head_hash"]):
        raise BackupError(f"{folder}: the database's audit chain ends at event {head.seq}, the manifest says "
                          f"{manifest['audit']['head_seq']}: it is not the database this backup was made of")
    referenced, present = sv.referenced_blobs(session), blob_addresses(manifest)
    if referenced - present:
        raise BackupError(f"{folder}: {len(referenced - present)} blob(s) the records name are not in the backup")
    if present - referenced:
        raise BackupError(f"{folder}: the backup holds {len(present - referenced)} blob(s) its records do not name")
    check_blobs(store, referenced, f"{folder}:")


def check_blobs(store: BlobStore, addresses: set[str], where) -> None:
    """Each blob decrypts with the key to the content its address promises; the first that does not is named."""
    for address in sorted(addresses):
        try:
            store.verify(address)
        except (DecryptionError, BlobMissing):
            raise BackupError(f"{where} blob {address[:12]}... does not decrypt with this key to the content its "
                              "name promises: it was altered or damaged") from None
