"""The small core every service module shares: the open records, the errors, who may act, the audit line.

Each action checks the actor's role (`authorize`), does its work in one database transaction together with
its audit event (`log_event`; both commit or neither does), and returns plain views (records.services.views)
without PHI unless the action is to see it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from records import audit
from records.audit import Actor
from records.config import Settings
from records.crypto import Keys
from records.models import Asset, Consent, Database, Installation, User, field_context
from records.queue import Queue
from records.store import EncryptedBlobs
from records.users import PermissionDenied, require


class RecordNotFound(LookupError):
    """No record with that id."""


class WorkflowError(ValueError):
    """The action does not fit the record's state; the message says what to do instead."""


class ScopeConflict(WorkflowError):
    """A person tried to confirm more than the consent document grants."""


@dataclass
class Records:
    settings: Settings
    db: Database
    keys: Keys
    store: EncryptedBlobs
    queue: Queue

    def transaction(self):
        return self.db.transaction()

    def close(self) -> None:
        self.db.dispose()


def authorize(records: Records, actor: Actor, action: str) -> None:
    """The role may do this, and the signed-in user still exists, is enabled and still has that role
    (an admin's change takes effect on the next action, not the next sign-in)."""
    require(actor, action)
    if actor.id is None:
        return   # the installation itself: the command line run by whoever holds the key file, housekeeping
    with records.db.reading() as session:
        check_current(session, actor)


def check_current(session: Session, actor: Actor) -> None:
    user = session.get(User, actor.id)
    if user is None or not user.active or user.role != actor.role:
        raise PermissionDenied(f"{actor.username}'s account was disabled or its role changed; sign in again")


def log_event(records: Records, session: Session, actor: Actor, action: str, subject_kind: str | None = None,
              subject_id: str | None = None, /, **details) -> None:
    audit.append(session, records.keys, actor, action, subject_kind, subject_id, **details)


def one_at_a_time(session: Session) -> None:
    """Serialise this kind of write: SQLite took its write lock when the transaction began; PostgreSQL locks
    the installation row, so two presses of one button cannot both find nothing there yet and both add it."""
    session.get(Installation, 1, with_for_update=True)


def get_row(session: Session, model, row_id: str, *, lock: bool = False):
    row = session.get(model, row_id, with_for_update=lock) if row_id else None
    if row is None:
        raise RecordNotFound(f"no {model.__tablename__[:-1]} with id {row_id!r}")
    return row


def patient_of(records: Records, consent: Consent) -> tuple[str, str]:
    """The consent's patient name and reference, decrypted: PHI, for the caller's memory only."""
    return tuple(records.keys.decrypt_text(getattr(consent, f"patient_{part}_enc"),
                                           field_context("consents", f"patient_{part}", consent.id)) or ""
                 for part in ("name", "ref"))


def username_of(session: Session, user_id: str | None) -> str | None:
    return session.get(User, user_id).username if user_id else None


def as_iso(value) -> str | None:
    """A date or time as ISO 8601 text; None stays None."""
    return value.isoformat() if value is not None else None


def original_to_process(asset: Asset) -> str:
    """The address of the asset's original, or the reason it cannot be processed any more."""
    if asset.original_blob is None:
        raise WorkflowError("the original was deleted (released, or past its retention period); upload it again "
                            "to process it")
    return asset.original_blob


def upload_size(source: Path | bytes) -> int:
    if isinstance(source, (bytes, bytearray)):
        return len(source)
    try:
        return Path(source).stat().st_size
    except OSError as exc:   # never echo the path: it may hold the patient's name
        raise WorkflowError(f"the upload could not be read ({exc.strerror or type(exc).__name__})") from None


def refuse_oversized(size: int, limit_mb: int, what: str) -> None:
    """Refused before anything is stored: an oversized upload would only fail later, and fill the disk first."""
    if size > limit_mb * 2 ** 20:
        raise WorkflowError(f"this {what} is {size / 2 ** 20:,.0f} MB, over the {limit_mb:,} MB limit for one "
                            f"{what}")
