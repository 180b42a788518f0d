"""What cannot be a consent is refused at registration, named by the uploaded file's own name, with nothing
stored; registering twice makes one consent."""
from __future__ import annotations

import pytest

from records import services as sv
from records_fixtures import (PATIENT_NAME, PATIENT_REF, add_people, consent_pdf, grace_hopper_path,  # noqa: F401
                              quick_password_hashing, sqlite_records)


@pytest.fixture
def people(sqlite_records):
    return add_people(sqlite_records)


@pytest.mark.parametrize("data, reason", [
    (b"", "the file is empty (0 bytes), so it cannot be a consent"),
    (grace_hopper_path().read_bytes(), "this is not a PDF (it is a JPEG image)"),
    (b"just some notes, saved with the wrong name", "this is not a PDF;"),
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF\n", "this PDF cannot be read ("),
])
def test_what_cannot_be_a_consent_is_refused_by_its_own_name_with_nothing_stored(sqlite_records, people, data,
                                                                                   reason):
    records = sqlite_records
    events = len(sv.audit_events(records, people.admin))
    with pytest.raises(sv.WorkflowError) as refused:
        sv.register_consent(records, people.staff, data, PATIENT_NAME, PATIENT_REF, file_name="Quennell form.pdf")
    message = str(refused.value)
    assert message.startswith(f"Quennell form.pdf: {reason}")
    assert "consent.pdf" not in message                                 # never the work copy's name
    assert sv.list_consents(records, people.admin) == []
    assert list(records.store.addresses()) == []
    assert len(sv.audit_events(records, people.admin)) == events
    work = records.settings.work_dir
    assert not work.exists() or not list(work.iterdir())
