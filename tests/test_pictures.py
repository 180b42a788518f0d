"""Pictures where decisions are made: a small picture of each output, made from the de-identified file
(never the original; a frame for a video), and the facts of its label, patients' names only for the roles
that see them, their showing audited."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from records import services as sv
from records_fixtures import (PATIENT_NAME, PATIENT_REF, add_people, grace_hopper_path, plain_photo, processed,
                              register, sqlite_records, synthetic_clip)  # noqa: F401


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=float)


def test_a_photo_card_shows_the_de_identified_picture_and_the_patient_to_staff(sqlite_records):
    people = add_people(sqlite_records)
    consent = register(sqlite_records, people)
    asset, output = processed(sqlite_records, people, consent_id=consent.id)
    (facts,) = sv.output_labels(sqlite_records, people.staff, [output.id, "not-an-output"]).values()
    assert (facts.kind, facts.consent_id, facts.patient_name, facts.patient_ref) == ("photo", consent.id,
                                                                                    PATIENT_NAME, PATIENT_REF)
    (picture,) = sv.output_thumbnails(sqlite_records, people.staff, [output.id, "not-an-output"]).values()
    thumb = _pixels(picture)
    assert max(thumb.shape) == 240 and thumb.shape[0] > thumb.shape[1]        # 512 x 600, portrait, reduced
    original = np.asarray(Image.open(grace_hopper_path()).convert("L").resize(thumb.shape[::-1]), dtype=float)
    scaled = [[round(v * thumb.shape[1] / 512) for v in region] for region in output.regions]
    x0, y0, x1, y1 = scaled[0]                                                   # the face; text regions follow
    face = np.zeros(thumb.shape, bool)
    face[y0 + 4:y1 - 4, x0 + 4:x1 - 4] = True
    for tx0, ty0, tx1, ty1 in scaled[1:]:                                        # solid text boxes are not the face
        face[max(0, ty0 - 4):ty1 + 4, max(0, tx0 - 4):tx1 + 4] = False
    assert np.std(thumb[face]) < 0.5 * np.std(original[face])                   # the face is covered in it
    shown = sv.audit_events(sqlite_records, people.admin, action="patients.shown")
    assert [e["details"]["consents"] for e in shown] == [[consent.id]]


def test_an_auditor_sees_the_picture_without_the_patients_name(sqlite_records):
    people = add_people(sqlite_records)
    consent = register(sqlite_records, people)
    _, output = processed(sqlite_records, people, consent_id=consent.id)
    facts = sv.output_labels(sqlite_records, people.auditor, [output.id])[output.id]
    assert sv.output_thumbnails(sqlite_records, people.auditor, [output.id])[output.id]
    assert facts.patient_name is None and facts.patient_ref is None and facts.consent_id == consent.id
    assert sv.audit_events(sqlite_records, people.admin, action="patients.shown") == []


def test_a_video_card_shows_a_frame_of_the_output(sqlite_records, tmp_path):
    people = add_people(sqlite_records)
    clip = synthetic_clip(tmp_path / "clip.mp4")
    _, output = processed(sqlite_records, people, clip, review=False)
    assert output.error is None
    facts = sv.output_labels(sqlite_records, people.marketing, [output.id])[output.id]
    assert facts.kind == "video" and facts.consent_id is None and facts.patient_name is None
    frame = Image.open(io.BytesIO(sv.output_thumbnails(sqlite_records, people.marketing, [output.id])[output.id]))
    assert frame.size == (240, 180) and np.std(np.asarray(frame)) > 10          # a real frame, not a blank
    assert not any(sqlite_records.settings.work_dir.glob("*/*"))                # its decrypted copy is gone


def test_a_failed_output_has_no_picture(sqlite_records, tmp_path):
    people = add_people(sqlite_records)
    consent = register(sqlite_records, people)
    _, output = processed(sqlite_records, people, consent_id=consent.id, review=False)
    failed = sv.rerender_with_edits(sqlite_records, people.staff, output.id, remove_regions=output.regions)
    assert failed.error
    assert sv.output_thumbnails(sqlite_records, people.staff, [failed.id]) == {failed.id: None}


def test_a_disabled_account_gets_neither_labels_nor_pictures(sqlite_records):
    people = add_people(sqlite_records)
    sv.set_user_active(sqlite_records, people.admin, people.staff.username, False)
    for service in (sv.output_labels, sv.output_thumbnails):
        with pytest.raises(sv.PermissionDenied):
            service(sqlite_records, people.staff, [])


def test_a_picture_the_store_could_not_give_is_tried_again_on_the_next_run(sqlite_records, tmp_path):
    people = add_people(sqlite_records)
    _, output = processed(sqlite_records, people, plain_photo(tmp_path / "p.jpg", seed=7), review=False)
    stored = sqlite_records.store.path(output.sha256)
    aside = stored.rename(tmp_path / "aside")                                   # the store cannot give it now
    assert sv.output_thumbnails(sqlite_records, people.staff, [output.id]) == {output.id: None}
    aside.rename(stored)
    assert sv.output_thumbnails(sqlite_records, people.staff, [output.id])[output.id]   # not remembered as missing
