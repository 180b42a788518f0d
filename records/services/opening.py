"""Opening the records: the data folder, the key file, the database (migrated), and the tidy-up after a crash.

Apart from records.services.core because opening ends with housekeeping, which itself works on open records.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from records import audit
from records.blob_s3 import AdvisoryLocks, S3BlobStore
from records.audit import SYSTEM
from records.config import Settings, load_settings, private_folder
from records.crypto import KeyFileError, Keys
from records.models import Database, Installation
from records.queue import Queue
from records.services.core import Records
from records.services.upkeep import housekeeping
from records.store import BlobStore, EncryptedBlobs, FileLocks


def open_records(settings: Settings | None = None, *, housekeep: bool = True) -> Records:
    """Open (creating on first run) the data folder, key file and database, and the queue to the workers;
    migrate; tidy up after crashes."""
    settings = settings or load_settings()
    private_folder(settings.data_dir)
    keys = Keys.load_or_create(settings.key_file)
    db = Database(settings.database_url)
    db.migrate()
    with db.transaction() as session:
        check_key(session, keys, settings)
        audit.ensure_head(session, keys)
    records = Records(settings, db, keys, open_store(settings, keys, db), Queue(settings))
    if housekeep:
        housekeeping(records, SYSTEM)
    return records


def open_store(settings: Settings, keys: Keys, db: Database) -> EncryptedBlobs:
    """The blob store: an S3 bucket when VEIL_BLOB_URL names one (several machines), else the data folder."""
    if not settings.blob_url:
        return BlobStore(settings.blob_dir, keys)
    shared = db.engine.dialect.name == "postgresql"
    locks = AdvisoryLocks(db.engine) if shared else FileLocks(private_folder(settings.data_dir))
    return S3BlobStore(settings.blob_url, keys, locks, settings.work_dir)


def check_key(session: Session, keys: Keys, settings: Settings) -> None:
    """Refuse a key file that is not this database's (the first opening records which one is)."""
    token = b"veil/installation/key-check"
    row = session.get(Installation, 1)
    if row is None:
        session.add(Installation(id=1, key_check=keys.seal(token)))
    elif not keys.seal_holds(row.key_check, token):
        raise KeyFileError(f"{settings.key_file}: this key file does not belong to this database; "
                           "check VEIL_KEY_FILE (a wrong key would make the records unreadable)")
