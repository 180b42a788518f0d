"""Review: original with its regions beside the de-identified output; the consent's patient shown to confirm
it is the same person; a region added and a false one removed, then re-rendered; the checklist must be
ticked in full before the output counts as reviewed."""
from __future__ import annotations

import pytest

from queue_fixtures import run_queued_jobs
from records import services
from ui.views import CHECKLIST
from ui_fixtures import PATIENT, app, button, click, processed_photo, register, texts, widget
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


@pytest.fixture
def photo(veil):
    consent = register(veil)
    asset, output = processed_photo(veil, consent.id)
    return veil, asset, output


def _newest(veil, asset_id):
    return [o for o in services.list_outputs(veil.records, veil.admin, asset_id) if not o.superseded][-1]


def test_review_shows_both_pictures_and_the_consent_patient_to_confirm(photo):
    veil, asset, output = photo
    at = app(veil.staff, "app_pages/review.py")
    assert f"was signed for **{PATIENT[0]}** (reference {PATIENT[1]})" in texts(at)
    assert at.get("vega_lite_chart")                                        # the original, regions drawn
    covered = f"De-identified and verified · {len(output.regions)} region(s) covered"   # her face and badge text
    assert covered in [c for i in at.image for c in i.captions]
    at = click(at, "Yes: the person in this media is the patient named on the consent")
    assert "A person confirmed that this media shows the patient of the consent." in texts(at)
    assert [a.patient_confirmed for a in services.list_assets(veil.records, veil.admin)] == [True]


def test_a_region_typed_in_is_added_and_the_output_re_rendered_by_a_worker(photo):
    veil, asset, output = photo
    at = app(veil.staff, "app_pages/review.py")
    assert button(at, "Add this region").disabled
    for label, value in (("left x0", 40), ("top y0", 470), ("right x1", 170), ("bottom y1", 560)):
        widget(at, "number_input", label).set_value(value)
    at = click(at.run(), "Add this region")
    assert "Regions you drew: [40, 470, 170, 560]" in texts(at)
    at = click(at, "Re-render with these changes")
    # the page queued it and did not wait: nothing was rendered yet, and the page shows the job waiting
    assert "Re-render queued" in texts(at)
    assert _newest(veil, asset.id).id == output.id
    (job,) = services.jobs_replacing(veil.records, veil.staff, output.id)
    assert job.kind == "rerender" and job.state == "queued"
    assert [bar.proto.text for bar in at.get("progress")] == [f"Re-render queued (job {job.id[:8]}): waiting for "
                                                             "a worker"]
    at = click(at, "Re-render with these changes")   # pressed again meanwhile: one re-render at a time
    assert "queued already" in texts(at) and len(services.jobs_replacing(veil.records, veil.staff, output.id)) == 1

    assert run_queued_jobs(veil.records) == ["done"]   # as a worker does
    at.run()
    assert "Re-rendered as output" in texts(at) and f"{len(output.regions) + 1} region(s); verified." in texts(at)
    newest = _newest(veil, asset.id)
    assert newest.parent_id == output.id and newest.regions_added == [[40, 470, 170, 560]]
    assert [40, 470, 170, 560] in newest.regions and newest.error is None and not newest.reviewed
    assert widget(at, "selectbox", "Output to review").value == newest.id   # the new output is on screen


def test_removing_the_face_fails_verification_and_the_page_says_why(photo):
    veil, asset, output = photo
    at = app(veil.staff, "app_pages/review.py")
    widget(at, "multiselect", "Remove false detections").select(1)
    at = click(at.run(), "Re-render with these changes")
    assert run_queued_jobs(veil.records) == ["failed"]   # the job fails as its output does
    at.run()
    newest = _newest(veil, asset.id)
    assert newest.regions_removed == output.regions[:1] and newest.error   # the face (text regions follow it)
    assert "verification failed" in texts(at)
    assert f"Verification failed: {newest.error}" in texts(at)
    assert button(at, "Confirm the review").disabled


def test_every_checklist_item_must_be_ticked_before_confirming(photo):
    veil, asset, output = photo
    at = app(veil.staff, "app_pages/review.py")
    assert [c.label for c in at.checkbox] == list(CHECKLIST)
    for box in at.checkbox[:-1]:
        box.check()
    at.run()
    assert button(at, "Confirm the review").disabled
    assert "1 item(s) left to tick" in texts(at)
    at.checkbox[-1].check()
    at = click(at.run(), "Confirm the review")
    assert f"Output {output.id[:8]} reviewed" in texts(at)
    assert [o.reviewed for o in services.list_outputs(veil.records, veil.admin)] == [True]
    assert "Nothing waits for review." in texts(at)


def test_media_without_a_consent_can_be_linked_to_one_in_review(veil):
    consent = register(veil)
    processed_photo(veil, None)
    at = app(veil.staff, "app_pages/review.py")
    assert "No consent is linked to this media." in texts(at)
    widget(at, "selectbox", "Consent").set_value(consent.id)
    at = click(at.run(), "Link this consent")
    assert f"was signed for **{PATIENT[0]}**" in texts(at)
    assert [a.consent_id for a in services.list_assets(veil.records, veil.admin)] == [consent.id]


def test_the_review_list_shows_each_output_by_its_picture_and_patient(photo):
    veil, asset, output = photo
    at = app(veil.staff, "app_pages/review.py")
    pick = widget(at, "selectbox", "Output to review")
    assert pick.format_func(output.id).startswith(f"{PATIENT[0]} ({PATIENT[1]}) · photo · ")
    gallery = [c for i in at.image for c in i.captions]
    assert any(c.startswith(f"{PATIENT[0]} ({PATIENT[1]}) · photo") for c in gallery)
    assert "output " + output.id[:8] not in pick.format_func(output.id)
