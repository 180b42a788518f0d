"""The records hand the engine the patient's identifiers (name words, reference, what in the original file name
may name someone) for its check that none can be read on the output: an output on which the patient's name
is still legible is withheld, with a reason that quotes no identifier, and nothing of them is stored."""
from __future__ import annotations

import numpy as np
from PIL import Image

from deid.api import detect_labelled
from records import services as sv
from records_fixtures import (PATIENT_NAME, PATIENT_REF, add_people, grace_hopper_path, quick_password_hashing,  # noqa: F401
                              register, sqlite_records)
from text_fixtures import covered_share, plant

NAME_LABEL = "QUENNELL ROSALIND"
ORIGINAL = "before_treatment.png"   # nothing in it names anyone: the label alone carries the identifiers


def _labelled_photo(path):
    rgb = np.asarray(Image.open(grace_hopper_path()).convert("RGB")).copy()
    label = plant(rgb, NAME_LABEL, (256, 560), letter_px=20, label=(250, 250, 246))
    Image.fromarray(rgb).save(path)
    return path, label, rgb.shape


def _verified(records, actor, action: str, output_id: str) -> dict:
    (event,) = [e for e in sv.audit_events(records, actor, action=action) if e["subject_id"] == output_id]
    return event["details"]["verified"]


def test_an_output_on_which_the_patients_name_can_be_read_is_withheld_without_quoting_it(sqlite_records, tmp_path):
    records = sqlite_records
    people = add_people(records)
    consent = register(records, people)
    photo, label, shape = _labelled_photo(tmp_path / "label.png")
    asset = sv.upload_media(records, people.staff, photo, ORIGINAL, consent.id)

    kept = sv.process(records, people.staff, asset.id)
    assert kept.error is None                           # the label is redacted: nothing of the patient is legible
    assert _verified(records, people.admin, "output.created", kept.id)["identifiers_readable"] == 0

    on_label = [region for region, kind in detect_labelled(photo) if kind == "text"
                and covered_share(label, [region], shape) > 0.3]
    assert on_label, "the label was found as text"
    withheld = sv.rerender_with_edits(records, people.staff, kept.id, remove_regions=on_label)
    assert withheld.sha256 is None and "identifiers can still be read" in withheld.error
    assert _verified(records, people.admin, "output.failed", withheld.id)["identifiers_readable"] >= 2
    words = [PATIENT_NAME, PATIENT_REF, "Quennell", "Rosalind", "0047711"]
    stored = withheld.error + repr(sv.audit_events(records, people.admin))
    assert [w for w in words if w.lower() in stored.lower()] == []


def test_an_outputs_regions_are_stored_with_what_each_covers(sqlite_records, tmp_path):
    records = sqlite_records
    people = add_people(records)
    photo, _, _ = _labelled_photo(tmp_path / "label.png")
    output = sv.process(records, people.staff, sv.upload_media(records, people.staff, photo, ORIGINAL).id)
    assert len(output.region_kinds) == len(output.regions) and {"face", "text"} <= set(output.region_kinds)
    drawn = [10, 10, 60, 60]
    edited = sv.rerender_with_edits(records, people.staff, output.id, add_regions=[drawn])
    assert edited.region_kinds[edited.regions.index(drawn)] == "manual"
    assert sv.list_outputs(records, people.admin, output.asset_id)[-1].region_kinds == edited.region_kinds
