"""A photo output is read for the name and reference of the patient whose consent is linked to its media now.
One rendered before that consent was linked (or recorded before outputs remembered whose identifiers they
were read for) is refused at the release gate until it is read again; linking a consent reads the media's
outputs again at once. A reading that finds the patient's name withholds the output, quoting no name."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from PIL import Image

from deid.api import detect_labelled
from records import services
from records import services as sv
from records.models import Output
from records.release_gate import FIXES
from records.services.recheck import recheck_identifiers
from records_fixtures import (PATIENT_NAME, PATIENT_REF, add_people, grace_hopper_path, plain_photo,  # noqa: F401
                              quick_password_hashing, register, sqlite_records)
from text_fixtures import covered_share, plant
from ui_fixtures import app, click, ready_to_release, texts
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)

NAME_LABEL = "QUENNELL ROSALIND"      # the words of PATIENT_NAME, on a wristband-like label
ORIGINAL = "before_treatment.png"     # nothing in it names anyone
TODAY = dt.date(2026, 6, 1)


def _labelled_photo(path):
    rgb = np.asarray(Image.open(grace_hopper_path()).convert("RGB")).copy()
    label = plant(rgb, NAME_LABEL, (256, 560), letter_px=20, label=(250, 250, 246))
    Image.fromarray(rgb).save(path)
    return path, label, rgb.shape


def _name_left_legible(records, people, photo, label, shape):
    """Rendered with no consent linked (so read for no name), then a reviewer removes the label's region:
    the kept output shows the patient's name, and nothing has read it for that name."""
    asset = sv.upload_media(records, people.staff, photo, ORIGINAL)
    first = sv.process(records, people.staff, asset.id)
    on_label = [region for region, kind in detect_labelled(photo) if kind == "text"
                and covered_share(label, [region], shape) > 0.3]
    assert on_label, "the label was found as text"
    shown = sv.rerender_with_edits(records, people.staff, first.id, remove_regions=on_label)
    assert shown.error is None and shown.sha256, "with no consent linked, nothing stopped the name"
    return asset, sv.mark_reviewed(records, people.staff, shown.id)


def _as_before_0007(records, output_id):
    """An output recorded before outputs remembered whose identifiers they were read for (the migration
    leaves those None)."""
    with records.transaction() as session:
        session.get(Output, output_id).identifiers_consent_id = None


def _approve(records, people, output_id):
    release = sv.request_release(records, people.staff, output_id, "instagram")
    return sv.approve_release(records, people.marketing, release.id, today=TODAY)


def _no_phi(records, people, *texts):
    stored = " ".join(texts) + repr(sv.audit_events(records, people.admin))
    words = [PATIENT_NAME, PATIENT_REF, "Quennell", "Rosalind", "0047711", NAME_LABEL]
    assert [w for w in words if w.lower() in stored.lower()] == []


def _linked_after_the_name_was_left_legible(records, tmp_path):
    """An output made before any consent, with the patient's name left legible by a reviewer; then the consent
    is linked (reading the output again) and a second person confirms the patient."""
    people = add_people(records)
    photo, label, shape = _labelled_photo(tmp_path / "label.png")
    asset, shown = _name_left_legible(records, people, photo, label, shape)
    consent = register(records, people)
    sv.link_consent(records, people.staff, asset.id, consent.id)
    sv.confirm_patient(records, people.staff2, asset.id)
    return records, people, shown


def test_linking_a_consent_reads_the_outputs_again_and_withholds_one_showing_the_name(sqlite_records, tmp_path):
    records, people, shown = _linked_after_the_name_was_left_legible(sqlite_records, tmp_path)
    (now,) = [o for o in sv.list_outputs(records, people.admin, shown.asset_id) if o.id == shown.id]
    assert now.error and "identifiers can still be read" in now.error
    decision = _approve(records, people, shown.id)
    assert not decision.allowed and "verification_failed" in decision.codes
    (event,) = [e for e in sv.audit_events(records, people.admin, action="output.withheld")]
    assert event["subject_id"] == shown.id and event["details"]["identifiers_readable"] >= 2
    _no_phi(records, people, now.error, repr(decision.as_dict()))


def test_an_output_not_read_for_the_linked_consents_patient_is_refused_until_read_again(sqlite_records, tmp_path):
    records, people, shown = _linked_after_the_name_was_left_legible(sqlite_records, tmp_path)
    with records.transaction() as session:   # as if rendered, and kept, by a Veil before this reading
        session.get(Output, shown.id).error = None
    _as_before_0007(records, shown.id)

    decision = _approve(records, people, shown.id)
    assert decision.codes == ["identifiers_unchecked"]
    (reason,) = decision.reasons
    assert reason.fix == "recheck_identifiers" and FIXES[reason.fix].needs == "review"
    obstacles = sv.release_obstacles(records, people.staff, decision.release_id).obstacles
    assert [(o.fix, o.fix_allowed) for o in obstacles] == [("recheck_identifiers", True)]

    withheld = recheck_identifiers(records, people.staff, shown.id)
    assert "identifiers can still be read" in withheld.error
    again = _approve(records, people, shown.id)
    assert not again.allowed and "verification_failed" in again.codes
    _no_phi(records, people, withheld.error, repr(decision.as_dict()), repr(again.as_dict()))


def test_an_output_on_which_no_name_can_be_read_passes_once_read_again(sqlite_records, tmp_path):
    records, people = sqlite_records, add_people(sqlite_records)
    asset = sv.upload_media(records, people.staff, plain_photo(tmp_path / "photo.jpg"), "photo.jpg")
    output = sv.mark_reviewed(records, people.staff, sv.process(records, people.staff, asset.id).id)
    consent = register(records, people)
    sv.link_consent(records, people.staff, asset.id, consent.id)   # read again at once: nothing legible
    sv.confirm_patient(records, people.staff2, asset.id)
    assert _approve(records, people, output.id).allowed

    second = sv.upload_media(records, people.staff, plain_photo(tmp_path / "other.jpg", seed=1), "other.jpg",
                             consent.id)
    kept = sv.mark_reviewed(records, people.staff, sv.process(records, people.staff, second.id).id)
    sv.confirm_patient(records, people.staff2, second.id)
    _as_before_0007(records, kept.id)
    assert _approve(records, people, kept.id).codes == ["identifiers_unchecked"]
    checked = recheck_identifiers(records, people.staff, kept.id)
    assert checked.error is None
    assert _approve(records, people, kept.id).allowed
    events = sv.audit_events(records, people.admin, action="output.identifiers_checked")
    assert {e["subject_id"] for e in events} == {output.id, kept.id}


def test_the_release_page_offers_the_reading_again_beside_the_refusal(veil):
    consent, asset, output = ready_to_release(veil)
    _as_before_0007(veil.records, output.id)
    services.request_release(veil.records, veil.staff, output.id, "instagram")
    at = app(veil.staff, "app_pages/release.py")
    assert "**Before approval:** 1 rule(s) do not hold yet" in texts(at)
    at = click(at, "Read the output again for the patient's name and reference")
    assert "no name or reference of the consent's patient can be read on it" in texts(at)
    at = click(app(veil.marketing, "app_pages/release.py"), "Check the gate and approve")
    assert "approved for instagram: every rule holds" in texts(at)


def test_an_output_that_cannot_be_read_again_stays_refused_and_the_link_still_holds(sqlite_records, tmp_path):
    records, people = sqlite_records, add_people(sqlite_records)
    asset = sv.upload_media(records, people.staff, plain_photo(tmp_path / "photo.jpg"), "photo.jpg")
    output = sv.mark_reviewed(records, people.staff, sv.process(records, people.staff, asset.id).id)
    stored = records.store.path(output.sha256)
    altered = bytearray(stored.read_bytes())
    altered[-40] ^= 0xFF
    stored.write_bytes(bytes(altered))
    consent = register(records, people)
    linked = sv.link_consent(records, people.staff, asset.id, consent.id)
    assert linked.consent_id == consent.id
    sv.confirm_patient(records, people.staff2, asset.id)
    assert "identifiers_unchecked" in _approve(records, people, output.id).codes
    with pytest.raises(sv.WorkflowError, match="could not be opened .DecryptionError.; it stays held back"):
        recheck_identifiers(records, people.staff, output.id)
