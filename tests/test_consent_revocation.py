"""Revocation is final for a document: the same PDF, or a copy with the same text, is refused when registered
again, naming when and by whom it was revoked; a new consent of a patient who revoked one is held until it
is known to be signed after the revocation, or a person confirms it is a new authorization."""
from __future__ import annotations

import dataclasses
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from consent.verdict import Verdict
from records import sandbox
from records import services as sv
from records.models import Consent
from records_fixtures import (PATIENT_NAME, PATIENT_REF, add_people, consent_pdf, make_settings,  # noqa: F401
                              quick_password_hashing, sqlite_records)

OTHER = ("Another Person", "MRN-999")


def resaved(pdf: bytes) -> bytes:
    """The same document written again by another program: other bytes, the same text."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata({"/Producer": "a re-saving viewer"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def people(sqlite_records):
    return add_people(sqlite_records)


@pytest.fixture(scope="module")
def documents() -> dict[str, bytes]:
    original = consent_pdf()
    return {"original": original, "re-saved": resaved(original),
            "new, signed before": consent_pdf(grant="I authorize the clinic to post my photographs on Instagram."),
            "new, signed after": consent_pdf(extra="Signed again after I withdrew.", signed_on="2099-01-02")}


@pytest.fixture(autouse=True)
def checker_once_per_document(monkeypatch):
    """The real checker's verdict, read once per distinct PDF (the registrations here repeat documents)."""
    real = sandbox.check_in_sandbox
    cache: dict[bytes, Verdict] = {}

    def check(path, **options):
        data = Path(path).read_bytes()
        if data not in cache:
            cache[data] = real(path, **options)
        return dataclasses.replace(cache[data], path=str(path))

    monkeypatch.setattr(sandbox, "check_in_sandbox", check)


def test_a_resaved_copy_has_other_bytes_and_the_same_text(documents):
    assert documents["original"] != documents["re-saved"]
    with tempfile.TemporaryDirectory() as folder:
        digests = []
        for name in ("original", "re-saved"):
            path = Path(folder) / f"{name}.pdf"
            path.write_bytes(documents[name])
            digests.append(sandbox.check_in_sandbox(path).text_sha256)
    assert digests[0] and digests[0] == digests[1]


@pytest.mark.parametrize("again", ["original", "re-saved"])
def test_a_revoked_document_registered_again_is_refused_with_when_and_by_whom(sqlite_records, people, documents,
                                                                               again):
    records = sqlite_records
    first = sv.register_consent(records, people.staff, documents["original"], PATIENT_NAME, PATIENT_REF)
    sv.revoke_consent(records, people.marketing, first.id, "the patient withdrew")
    blobs = set(records.store.addresses())
    with pytest.raises(sv.WorkflowError) as refused:
        sv.register_consent(records, people.staff, documents[again], PATIENT_NAME, PATIENT_REF,
                            file_name="Quennell scan.pdf")
    message = str(refused.value)
    assert message.startswith("Quennell scan.pdf: this document was revoked on ")
    assert "by mia.marketing" in message and "a new signed authorization is needed" in message
    assert ("copy with the same text" in message) == (again == "re-saved")
    assert [c.id for c in sv.list_consents(records, people.admin)] == [first.id]
    assert set(records.store.addresses()) == blobs                       # nothing stored


def test_the_same_document_twice_for_the_same_patient_is_one_consent(sqlite_records, people, documents):
    records = sqlite_records
    first = sv.register_consent(records, people.staff, documents["original"], PATIENT_NAME, PATIENT_REF)
    again = sv.register_consent(records, people.staff, documents["original"], PATIENT_NAME, PATIENT_REF,
                                file_name="consent (1).pdf")
    copy = sv.register_consent(records, people.staff, documents["re-saved"], PATIENT_NAME, PATIENT_REF)
    assert not first.existing and again.existing and copy.existing
    assert again.id == copy.id == first.id
    assert again.notice == f"consent (1).pdf: already registered as consent {first.id[:8]}; no second copy was made"
    assert len(sv.list_consents(records, people.admin)) == 1
    assert len(list(records.store.addresses())) == 1                     # the re-saved file was not kept either
    with pytest.raises(sv.WorkflowError, match="registered already, as consent .* of another patient"):
        sv.register_consent(records, people.staff, documents["re-saved"], *OTHER)


def test_a_new_consent_signed_before_the_revocation_waits_for_a_person(sqlite_records, people, documents):
    records = sqlite_records
    first = sv.register_consent(records, people.staff, documents["original"], PATIENT_NAME, PATIENT_REF)
    sv.revoke_consent(records, people.marketing, first.id, "the patient withdrew")
    newer = sv.register_consent(records, people.staff, documents["new, signed before"], PATIENT_NAME, PATIENT_REF,
                                file_name="new.pdf")
    assert newer.awaits_new_authorization and newer.signed_on == "2025-01-02"
    assert newer.notice.startswith(f"new.pdf: this patient revoked consent {first.id[:8]} on ")
    assert "this document was signed on 2025-01-02, not after that" in newer.notice
    with pytest.raises(sv.ScopeConflict, match="confirm first that it is a new authorization"):
        sv.confirm_scope(records, people.marketing, newer.id, covers_social_media=True, identifiable="allowed",
                         signature_attested=True)
    with pytest.raises(sv.PermissionDenied):
        sv.confirm_new_authorization(records, people.staff, newer.id)
    sv.confirm_new_authorization(records, people.marketing, newer.id)
    sv.confirm_new_authorization(records, people.marketing, newer.id)            # twice: one event
    confirmed = sv.confirm_scope(records, people.marketing, newer.id, covers_social_media=True,
                                 identifiable="allowed", signature_attested=True)
    assert confirmed.confirmed and not confirmed.awaits_new_authorization
    (event,) = sv.audit_events(records, people.admin, action="consent.new_authorization_confirmed")
    assert event["actor"] == "mia.marketing" and event["details"]["after_revocation_of"] == first.id


def test_a_new_consent_signed_after_the_revocation_goes_ahead(sqlite_records, people, documents):
    records = sqlite_records
    first = sv.register_consent(records, people.staff, documents["original"], PATIENT_NAME, PATIENT_REF)
    sv.revoke_consent(records, people.marketing, first.id, "the patient withdrew")
    newer = sv.register_consent(records, people.staff, documents["new, signed after"], PATIENT_NAME, PATIENT_REF)
    assert newer.signed_on == "2099-01-02" and not newer.awaits_new_authorization and newer.notice is None


# -- no sequence of uploads, revocations and re-uploads leaves a revoked document active -------------------------
PATIENTS = [(PATIENT_NAME, PATIENT_REF), OTHER]
STEPS = st.lists(st.one_of(
    st.tuples(st.just("register"), st.sampled_from(["original", "re-saved", "new, signed before"]),
              st.integers(0, len(PATIENTS) - 1)),
    st.tuples(st.just("revoke"), st.integers(0, 5), st.just(0))), min_size=1, max_size=7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_no_sequence_leaves_an_active_consent_made_from_a_revoked_document(tmp_path_factory, documents, steps):
    records = sv.open_records(make_settings(tmp_path_factory.mktemp("sequence")))
    try:
        people = add_people(records)
        for verb, what, who in steps:
            try:
                if verb == "register":
                    sv.register_consent(records, people.staff, documents[what], *PATIENTS[who])
                else:
                    listed = sv.list_consents(records, people.admin)
                    if what < len(listed):
                        sv.revoke_consent(records, people.marketing, listed[what].id, "withdrawn")
            except sv.WorkflowError:
                pass   # a refusal is a fine answer; what must never be is an active revoked document
            _no_revoked_document_is_active(records)
    finally:
        records.close()


def _no_revoked_document_is_active(records) -> None:
    with records.db.reading() as session:
        consents = session.query(Consent).all()
    revoked = [c for c in consents if c.status == "revoked"]
    for c in consents:
        if c.status == "active":
            assert not [r for r in revoked if r.pdf_sha256 == c.pdf_sha256 or (c.text_key and r.text_key == c.text_key)]
