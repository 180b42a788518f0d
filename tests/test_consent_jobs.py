"""Consent reading as a job: the page queues an uploaded consent PDF and returns at once; a worker reads it
(here the same claim-and-run a worker process does, tests/test_queue.py runs real ones) and registers it as
`register_consent` would. The job names a consent reading only (the PDF's blob and the patient, encrypted),
which goes when the job ends, whatever the end; refusals are the job's reason, nothing is left behind."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from queue_fixtures import run_queued_jobs
from records import services as sv
from records.models import ConsentReading, Job
from records_fixtures import (PATIENT_NAME, PATIENT_REF, add_people, consent_pdf,  # noqa: F401
                              quick_password_hashing, sqlite_records)

OTHER_EXPIRY = "This authorization expires on 2031-01-31."


def readings(records) -> int:
    with records.db.reading() as session:
        return len(session.scalars(select(ConsentReading)).all())


def stored_blobs(records) -> set[str]:
    return set(records.store.addresses())


def referenced(records) -> set[str]:
    with records.db.reading() as session:
        return sv.referenced_blobs(session)


def test_a_queued_consent_is_read_by_a_worker_and_its_reading_forgotten(sqlite_records):
    records, people = sqlite_records, add_people(sqlite_records)
    job = sv.enqueue_consent_reading(records, people.staff, consent_pdf(), PATIENT_NAME, PATIENT_REF,
                                     file_name="rosalind_quennell_consent.pdf")
    assert job.kind == "consent" and job.state == "queued" and job.consent_id is None
    assert sv.list_consents(records, people.staff) == [] and readings(records) == 1   # nothing read yet
    with records.db.reading() as session:
        row = session.get(Job, job.id)
        columns = repr([getattr(row, c.name) for c in Job.__table__.columns])
    assert "Quennell" not in columns and "0047711" not in columns and "rosalind" not in columns
    database = (records.settings.data_dir / "veil.db").read_bytes()
    assert PATIENT_NAME.encode() not in database and PATIENT_REF.encode() not in database   # encrypted

    assert run_queued_jobs(records) == ["done"]
    done = sv.get_job(records, people.staff, job.id)
    (consent,) = sv.list_consents(records, people.staff)
    assert done.consent_id == consent.id and done.progress == 1.0 and consent.social_media == "covered"
    assert [c.id for c in sv.find_consents(records, people.staff, PATIENT_REF)] == [consent.id]
    details = sv.consent_details(records, people.staff, consent.id)
    assert (details["patient_name"], details["patient_ref"]) == (PATIENT_NAME, PATIENT_REF)
    assert readings(records) == 0 and stored_blobs(records) == referenced(records) == {consent.pdf_sha256}
    assert sv.verify_audit(records, people.admin).ok

    # the same document for the same patient again: the consent registered before, not a second one
    again = sv.enqueue_consent_reading(records, people.staff, consent_pdf(), PATIENT_NAME, PATIENT_REF)
    assert run_queued_jobs(records) == ["done"]
    assert sv.get_job(records, people.staff, again.id).consent_id == consent.id
    assert len(sv.list_consents(records, people.staff)) == 1 and readings(records) == 0


def test_a_refused_reading_fails_its_job_with_the_reason_and_leaves_nothing(sqlite_records):
    records, people = sqlite_records, add_people(sqlite_records)
    sv.enqueue_consent_reading(records, people.staff, consent_pdf(), PATIENT_NAME, PATIENT_REF)
    run_queued_jobs(records)
    other = sv.enqueue_consent_reading(records, people.staff, consent_pdf(), "Someone Else", "MRN-1234567")
    broken = sv.enqueue_consent_reading(records, people.staff, b"%PDF-1.7\nnot a PDF after all\n" * 40,
                                        PATIENT_NAME, PATIENT_REF)
    assert run_queued_jobs(records) == ["failed", "failed"]
    other_job, broken_job = (sv.get_job(records, people.staff, j.id) for j in (other, broken))
    assert "of another patient" in other_job.error and other_job.error.startswith("the consent PDF: ")
    assert "this PDF cannot be read" in broken_job.error and broken_job.consent_id is None
    assert len(sv.list_consents(records, people.staff)) == 1
    assert readings(records) == 0 and stored_blobs(records) == referenced(records)   # no orphan PDF
    with pytest.raises(sv.WorkflowError, match="no longer kept; upload it again"):
        sv.retry_job(records, people.staff, broken_job.id)


def test_what_can_be_refused_without_reading_is_refused_at_once_and_a_cancelled_reading_is_forgotten(
        sqlite_records):
    records, people = sqlite_records, add_people(sqlite_records)
    with pytest.raises(sv.WorkflowError, match="scan.jpg: this is not a PDF"):
        sv.enqueue_consent_reading(records, people.staff, b"\xff\xd8\xff\xe0" + b"\0" * 64, PATIENT_NAME,
                                   PATIENT_REF, file_name="scan.jpg")
    with pytest.raises(sv.WorkflowError, match="the patient's name and reference"):
        sv.enqueue_consent_reading(records, people.staff, consent_pdf(), " ", PATIENT_REF)
    with pytest.raises(sv.PermissionDenied):
        sv.enqueue_consent_reading(records, people.auditor, consent_pdf(), PATIENT_NAME, PATIENT_REF)
    assert sv.list_jobs(records, people.admin, everyone=True) == [] and stored_blobs(records) == set()

    job = sv.enqueue_consent_reading(records, people.staff, consent_pdf(expiry=OTHER_EXPIRY), PATIENT_NAME,
                                     PATIENT_REF)
    assert sv.cancel_job(records, people.staff, job.id).state == "cancelled"
    assert run_queued_jobs(records) == [] and sv.list_consents(records, people.staff) == []
    assert readings(records) == 0 and stored_blobs(records) == set()
