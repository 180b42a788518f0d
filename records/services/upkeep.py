"""Housekeeping: tidy up after crashes (work folders, temporary and orphan blobs), apply the retention rules."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.audit import SYSTEM, Actor
from records.models import Asset, Consent, utcnow
from records.release_gate import effective_expiry
from records.services.blobs import delete_unreferenced, forget_original, referenced_blobs
from records.services.consents import end_releases
from records.services.core import Records, authorize, log_event
from records.store import sweep_work


def housekeeping(records: Records, actor: Actor = SYSTEM, *, now: dt.datetime | None = None,
                 grace_seconds: float | None = None) -> dict:
    """Tidy after crashes and apply retention: work folders of dead processes, temporary and unreferenced
    blobs, expired consents (their releases become takedown tasks), originals and consent PDFs past their
    retention period."""
    authorize(records, actor, "run_housekeeping")
    now = now or utcnow()
    report = {"work_dirs": sweep_work(records.settings.work_dir)}
    freed: list[str] = []
    with records.transaction() as session:
        report["expired"] = _expire_consents(records, session, actor, now.astimezone().date())
        for asset in session.scalars(select(Asset).where(Asset.original_blob.is_not(None),
                                                         Asset.delete_original_after <= now)):
            freed.append(forget_original(records, session, actor, asset, "retention period ended"))
        for consent in session.scalars(select(Consent).where(Consent.pdf_blob.is_not(None),
                                                             Consent.retain_until <= now)):
            freed.append(consent.pdf_blob)
            consent.pdf_blob = None
            log_event(records, session, actor, "consent.pdf_deleted", "consent", consent.id,
                      reason="retention period ended")
    report["originals_and_pdfs_deleted"] = len(freed)
    delete_unreferenced(records, freed)
    grace = records.settings.orphan_grace_seconds if grace_seconds is None else grace_seconds
    with records.store.deleting():
        with records.db.sessions() as session:
            referenced = referenced_blobs(session)
        swept = records.store.sweep(referenced, grace)
    report["temp_files"], report["orphan_blobs"] = swept.temp_files, len(swept.orphan_blobs)
    return report


def _expire_consents(records: Records, session: Session, actor: Actor, today: dt.date) -> int:
    count = 0
    for c in session.scalars(select(Consent).where(Consent.status == "active")):
        ends = effective_expiry(c)
        if ends is not None and today >= ends:
            c.status, c.status_changed_at = "expired", utcnow()
            log_event(records, session, actor, "consent.expired", "consent", c.id, ended=ends.isoformat(),
                      takedowns=end_releases(session, c.id))
            count += 1
    return count
