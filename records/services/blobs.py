"""When a blob may be deleted.

Blobs are written before the transaction that references them and deleted after the one that stops
referencing them, so a crash leaves at most an unreferenced blob, which housekeeping removes. Blobs are
shared by content, so writing one and committing its record happen under the store's shared lock, and
deciding that one is unreferenced and deleting it under its exclusive lock (see records.store).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.audit import Actor
from records.models import Asset, Consent, ConsentReading, Output, utcnow
from records.services.core import Records, log_event


def referenced_blobs(session: Session, only: list[str] | None = None) -> set[str]:
    """The blob addresses some record names (of `only`, when given): the one list of columns that hold them."""
    found: set[str] = set()
    for column in (Consent.pdf_blob, Asset.original_blob, Output.blob, ConsentReading.pdf_blob):
        query = select(column).where(column.is_not(None))
        if only is not None:
            query = query.where(column.in_(only))
        found.update(session.scalars(query))
    return found


def delete_unreferenced(records: Records, addresses) -> None:
    """After the commit that stopped referencing them; a blob shared with another record stays."""
    addresses = [a for a in addresses if a]
    if not addresses:
        return
    with records.store.deleting():   # the same content may be on its way into another record right now
        with records.db.sessions() as session:
            still = referenced_blobs(session, addresses)
        for address in addresses:
            if address not in still:
                records.store.delete(address)


def forget_original(records: Records, session: Session, actor: Actor, asset: Asset, why: str) -> str:
    """Drop the asset's original from its record (audited, with `why`); returns its address, for
    delete_unreferenced after the commit."""
    blob = asset.original_blob
    asset.original_blob, asset.original_deleted_at = None, utcnow()
    log_event(records, session, actor, "media.original_deleted", "asset", asset.id, reason=why)
    return blob
