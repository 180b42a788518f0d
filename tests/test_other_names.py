"""A file name that names someone other than the consent's patient is refused until a person confirms the file
is theirs; the decision is audited as a count, and the names are compared in memory, never stored in clear."""
from __future__ import annotations

import pytest

from records import services as sv
from records_fixtures import (ORIGINAL_NAME, PATIENT_NAME, PATIENT_REF, add_people, plain_photo,  # noqa: F401
                              quick_password_hashing, register, sqlite_records)

SOMEONE_ELSE = "Doe_Jane_MRN4471123.jpg"


@pytest.mark.parametrize("name, others", [
    (SOMEONE_ELSE, ["Doe", "Jane", "4471123"]),
    (ORIGINAL_NAME, []),                                    # the patient's own name and reference
    ("rosalind_smith_before.jpg", ["smith"]),
    ("IMG_0042.jpg", []), ("knee_left.jpg", []), ("Quennell Rosalind 47711.jpg", []),
])
def test_what_in_a_name_is_not_the_patients(name, others):
    assert sv.others_named(name, PATIENT_NAME, PATIENT_REF) == others


def test_a_name_naming_someone_else_waits_for_a_person_and_the_decision_is_audited(sqlite_records, tmp_path):
    records = sqlite_records
    people = add_people(records)
    consent = register(records, people)
    photo = plain_photo(tmp_path / "p.jpg")
    with pytest.raises(sv.WorkflowError, match=r"names someone other than this consent's patient \(3 word") as no:
        sv.upload_media(records, people.staff, photo, SOMEONE_ELSE, consent.id)
    assert "Doe" not in str(no.value) and "4471123" not in str(no.value)
    assert sv.list_assets(records, people.admin) == [] and list(records.store.addresses()) == [consent.pdf_sha256]
    asset = sv.upload_media(records, people.staff, photo, SOMEONE_ELSE, consent.id, other_names_confirmed=True)
    (event,) = sv.audit_events(records, people.admin, action="media.other_name_confirmed")
    assert event["subject_id"] == asset.id and event["details"] == {"consent_id": consent.id, "words": 3}
    assert sv.upload_media(records, people.staff, plain_photo(tmp_path / "q.jpg", seed=2), SOMEONE_ELSE).consent_id \
        is None                                             # no consent, no patient to compare with
    database = b"".join(f.read_bytes() for f in records.settings.data_dir.glob("veil.db*"))   # WAL included
    assert b"4471123" not in database and b"Doe_Jane" not in database
