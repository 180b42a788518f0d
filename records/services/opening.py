"""Opening the records: the data folder, the key file, the database (migrated), and the tidy-up after a crash.

Apart from records.services.core because opening ends with housekeeping, which itself works on open records.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from records import audit
from records.audit import SYSTEM
from records.config import Settings, load_settings, private_folder
from records.crypto import KeyFileError, Keys
from records.models import Database, Installation
from records.queue import Queue
from records.services.core import Records
from records.services.upkeep import housekeeping
from records.store import BlobStore


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
    records = Records(settings, db, keys, BlobStore(settings.blob_dir, keys), Queue(settings))
    if housekeep:
        housekeeping(records, SYSTEM)
    return records


def check_key(session: Session, keys: Keys, settings: Settings) -> None:
    """Refuse a key file that is not this database's (the first opening records which one is)."""
    token = b"veil/installation/key-check"
    row = session.get(Installation, 1)
    if row is None:
        session.add(Installation(id=1, key_check=keys.seal(token)))
    elif not keys.seal_holds(row.key_check, token):
        raise KeyFileError(f"{settings.key_file}: this key file does not belong to this database; "
                           "check VEIL_KEY_FILE (a wrong key would make the records unreadable)")
