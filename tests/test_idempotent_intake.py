"""Pressing twice makes nothing twice: the same file under the same consent is one asset, processing it again
returns its output, and two renderings that ran side by side record one."""
from __future__ import annotations

import pytest

from records import services as sv
from records.services.intake import render_output
from records_fixtures import (add_people, plain_photo, quick_password_hashing, register,  # noqa: F401
                              sqlite_records)


@pytest.fixture
def clinic(sqlite_records, tmp_path):
    people = add_people(sqlite_records)
    return sqlite_records, people, register(sqlite_records, people), plain_photo(tmp_path / "p.jpg")


def test_the_same_file_under_the_same_consent_is_one_asset_and_one_output(clinic):
    records, people, consent, photo = clinic
    first = sv.upload_media(records, people.staff, photo, "p.jpg", consent.id)
    again = sv.upload_media(records, people.staff2, photo.read_bytes(), "p (copy).jpg", consent.id)
    assert again.id == first.id and again.existing and not first.existing
    made = sv.process(records, people.staff, first.id)
    remade = sv.process(records, people.staff, first.id)
    assert remade.id == made.id and remade.existing and not made.existing
    assert len(sv.list_assets(records, people.admin)) == 1 and len(sv.list_outputs(records, people.admin)) == 1
    assert [e["action"] for e in sv.audit_events(records, people.admin, newest_first=False)].count(
        "media.uploaded") == 1


def test_the_same_file_without_a_consent_or_under_another_is_another_asset(clinic):
    records, people, consent, photo = clinic
    under = sv.upload_media(records, people.staff, photo, "p.jpg", consent.id)
    loose = sv.upload_media(records, people.staff, photo, "p.jpg")
    assert loose.id != under.id and not loose.existing
    assert sv.upload_media(records, people.staff, photo, "p.jpg").id == loose.id


def test_two_renderings_side_by_side_record_one_output(clinic):
    """Two presses that both passed the first look: the second to finish finds the first's output."""
    records, people, consent, photo = clinic
    asset = sv.upload_media(records, people.staff, photo, "p.jpg", consent.id)
    first = render_output(records, people.staff, asset.id, "default", [], [], None, None)
    second = render_output(records, people.staff, asset.id, "default", [], [], None, None)
    assert second.id == first.id and second.existing
    assert len(sv.list_outputs(records, people.admin)) == 1
    replaced = render_output(records, people.staff, asset.id, "default", [[1, 1, 40, 40]], [], first.id, None)
    twice = render_output(records, people.staff, asset.id, "default", [[1, 1, 40, 40]], [], first.id, None)
    assert twice.id == replaced.id and twice.existing
    assert len(sv.list_outputs(records, people.admin)) == 2
    with records.db.reading() as session:
        assert set(records.store.addresses()) == sv.referenced_blobs(session)   # no second file left behind


def test_a_failed_rendering_may_be_tried_again(clinic, tmp_path):
    records, people, consent, photo = clinic
    truncated = photo.read_bytes()[:2000]
    asset = sv.upload_media(records, people.staff, truncated, "cut.jpg", consent.id)
    failed = sv.process(records, people.staff, asset.id)
    again = sv.process(records, people.staff, asset.id)
    assert failed.error and again.error and again.id != failed.id and not again.existing


def test_confirming_the_patient_and_requesting_a_release_twice_make_one_of_each(clinic):
    records, people, consent, photo = clinic
    asset = sv.upload_media(records, people.staff, photo, "p.jpg", consent.id)
    output = sv.mark_reviewed(records, people.staff, sv.process(records, people.staff, asset.id).id)
    for _ in range(2):
        sv.confirm_patient(records, people.staff, asset.id)
        sv.link_consent(records, people.staff, asset.id, consent.id)   # the same consent: still confirmed
    assert len(sv.audit_events(records, people.admin, action="media.patient_confirmed")) == 1
    assert sv.list_assets(records, people.admin)[0].patient_confirmed
    first = sv.request_release(records, people.staff, output.id, "instagram")
    assert sv.request_release(records, people.staff2, output.id, "Instagram").id == first.id
    assert sv.request_release(records, people.staff, output.id, "facebook").id != first.id
    assert len(sv.list_releases(records, people.admin)) == 2
