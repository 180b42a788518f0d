"""Consent reading as a job: a PDF kept encrypted with its patient's name and reference (a consent reading)
until a worker reads it and registers it as records.services.consents.register_consent does. The job names the
reading only, never the patient or the file."""
from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Callable

from consent.verdict import Verdict
from records import signing
from records.audit import Actor
from records.models import ConsentReading, Job, field_context, utcnow
from records.services.consents import (PDF_HEADER_WINDOW, Document, copy_upload, patient_key, refuse_before_reading,
                                       refuse_non_pdf, refuse_non_pdf_head, register_read, registered_before)
from records.services.core import Records, authorize, get_row, log_event
from records.services.jobs import JobView, job_view
from records.services.views import ConsentView
from records.store import WorkDir

READ_AS = "the consent PDF"   # how a queued reading names its file in reasons: the job keeps no file name


def enqueue_consent_reading(records: Records, actor: Actor, pdf: Path | bytes, patient_name: str,
                            patient_ref: str, *, file_name: str = READ_AS,
                            link_assets: list[str] | None = None) -> JobView:
    """Queue a consent PDF for a worker to read and register, and return at once: what can be refused
    without reading it (no name, an empty, oversized or non-PDF file) is refused now, by `file_name`; the
    PDF is kept encrypted and the patient's name and reference encrypted with it (a consent reading) until
    the job ends. The job (kind "consent") names the reading only, and, once done, the consent.
    `link_assets`: media kept with the PDF (Intake), which the worker links to the consent once it is
    registered (records.services.intake.link_read_media); refused, they stay kept without a consent."""
    authorize(records, actor, "register_consent")
    if link_assets:
        authorize(records, actor, "link_consent")
    refuse_before_reading(records, pdf, patient_name, patient_ref, file_name)
    with WorkDir(records.settings.work_dir) as work:
        path = copy_upload(pdf, work / "consent.pdf")
        refuse_non_pdf(path, file_name)
        with records.store.keeping():   # until the commit: nobody deletes this content
            blob = records.store.put_file(path)
            with records.transaction() as session:
                reading = ConsentReading(id=uuid.uuid4().hex, pdf_blob=blob, created_at=utcnow(),
                                         link_assets=list(link_assets) if link_assets else None)
                for part, value in (("name", patient_name), ("ref", patient_ref)):
                    setattr(reading, f"patient_{part}_enc", records.keys.encrypt_text(
                        value.strip(), field_context("consent_readings", f"patient_{part}", reading.id)))
                session.add(reading)
                job = Job(kind="consent", owner_id=actor.id, reading_id=reading.id, state="queued", progress=0.0,
                          attempts=0, cancel_requested=False, created_at=utcnow())
                session.add(job)
                session.flush()
                log_event(records, session, actor, "job.queued", "job", job.id, kind="consent", pdf_sha256=blob,
                          link_assets=reading.link_assets)
                view = job_view(session, job)
    records.queue.wake()
    return view


def read_queued_consent(records: Records, actor: Actor, reading_id: str, check: Callable[..., Verdict],
                        still_wanted: Callable[[], bool]) -> ConsentView:
    """A worker's part of a consent job: read the queued PDF with `check` (consent.check.check_pdf, in the
    worker's own process: the worker is the isolation unit) and register it as `register_consent` does."""
    with records.db.reading() as session:
        reading = get_row(session, ConsentReading, reading_id)
        blob, signed_in_veil = reading.pdf_blob, reading.signed_in_veil
        name, ref = (records.keys.decrypt_text(getattr(reading, f"patient_{part}_enc"),
                                               field_context("consent_readings", f"patient_{part}", reading.id))
                     for part in ("name", "ref"))
    with WorkDir(records.settings.work_dir) as work:
        path = records.store.decrypt_to(blob, work / "consent.pdf")
        verdict = check(path, trust_roots=signing.trust_roots(records))
        return register_read(records, actor, path, verdict, name, ref, READ_AS, signed_in_veil, still_wanted)


def media_to_link(records: Records, reading_id: str) -> list[str]:
    """The ids of the media queued with a consent reading, to link to the consent it registered."""
    with records.db.reading() as session:
        return list(get_row(session, ConsentReading, reading_id).link_assets or [])


def registered_already(records: Records, actor: Actor, pdf: bytes, patient_name: str, patient_ref: str, *,
                       file_name: str = READ_AS) -> ConsentView | None:
    """The consent these very bytes were registered as for this patient (marked existing), found without
    reading the PDF; None when they are not registered yet. Refused with the reason when they were revoked, or
    registered for another patient (what reading them would say too), and what enqueue_consent_reading
    refuses (no name, an empty, oversized or non-PDF file). Intake asks it first, so that the same PDF sent
    again takes its media under the consent it already is, and a PDF refused now keeps no media."""
    authorize(records, actor, "register_consent")
    refuse_before_reading(records, pdf, patient_name, patient_ref, file_name)
    refuse_non_pdf_head(bytes(pdf[:PDF_HEADER_WINDOW]), file_name)
    document = Document(hashlib.sha256(bytes(pdf)).hexdigest(), None, patient_key(records, patient_ref), file_name)
    with records.db.reading() as session:
        return registered_before(session, document)
