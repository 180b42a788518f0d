"""Review: original with its regions beside the de-identified output, faces and text each in their own colour
and named in words; the consent's patient shown to confirm it is the same person; a region added (as a face or
as writing) and a false one removed from its thumbnail, then re-rendered; the checklist must be ticked in full
before the output counts as reviewed."""
from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from queue_fixtures import run_queued_jobs
from records import services
from review_fixtures import SLOGAN, labelled_photo, region_over
from text_fixtures import tesseract_reading
from ui.views import CHECKLIST, REGION_COLOURS
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
    widget(at, "checkbox", "Remove #1 (face)").check()
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
    checklist = [c for c in at.checkbox if c.label in CHECKLIST]
    assert [c.label for c in checklist] == list(CHECKLIST)
    for box in checklist[:-1]:
        box.check()
    at.run()
    assert button(at, "Confirm the review").disabled
    assert "1 item(s) left to tick" in texts(at)
    widget(at, "checkbox", CHECKLIST[-1]).check()
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


# -- text regions (issue 14) ------------------------------------------------------------------------------------
def _drawn_regions(at) -> list[dict]:
    """The boxes the region editor draws: the rows of the chart's data set that carry a colour."""
    chart = at.get("vega_lite_chart")[0].proto
    rows = []
    for named in chart.datasets:
        frame = pa.ipc.open_stream(named.data.data).read_pandas()
        if "colour" in frame:
            rows += frame.to_dict("records")
    colours = [layer["encoding"]["stroke"]["scale"] for layer in json.loads(chart.spec)["layer"]
               if "stroke" in layer.get("encoding", {})]
    assert colours and dict(zip(colours[0]["domain"], colours[0]["range"])) == REGION_COLOURS
    return rows


def _pixels(veil, output_id) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(services.preview_output(veil.records, veil.admin, output_id)))
                      .convert("RGB"))


@pytest.fixture
def slogan(veil, tmp_path):
    """A photo of a person with a T-shirt slogan across her chest, processed under the patient's consent."""
    consent = register(veil)
    photo, line = labelled_photo(tmp_path / "shirt.png")
    asset = services.upload_media(veil.records, veil.staff, photo, "shirt.png", consent.id)
    output = services.process(veil.records, veil.staff, asset.id)
    return asset, output, line, region_over(output, line)


def test_text_regions_are_drawn_in_their_own_colour_and_named_in_words(veil, slogan):
    asset, output, line, number = slogan
    at = app(veil.staff, "app_pages/review.py")
    drawn = {row["label"]: row["colour"] for row in _drawn_regions(at)}
    assert drawn["#1 face"] == "face" and drawn[f"#{number} text"] == "text"
    assert set(drawn.values()) == {"face", "text"}   # grace_hopper's flag and ribbons are found as text too
    assert "Text or code found" in texts(at) and "Face found" in texts(at)   # the legend, in words
    captions = [c for i in at.image for c in i.captions]
    assert f"#{number} · text" in captions and "#1 · face" in captions        # a thumbnail of each region
    assert len([c for c in captions if c.startswith("#")]) == len(output.regions)


def test_a_slogan_removed_stays_readable_and_drawn_again_as_text_is_covered_solid(veil, slogan):
    asset, output, line, number = slogan
    assert "SURF" not in tesseract_reading(_pixels(veil, output.id), line)   # covered at first
    at = app(veil.staff, "app_pages/review.py")
    widget(at, "checkbox", f"Remove #{number} (text)").check()
    at.run()
    assert {r["label"]: r["colour"] for r in _drawn_regions(at)}[f"#{number} text"] == "to remove"
    at = _rendered_by_a_worker(veil, click(at, "Re-render with these changes"))
    assert "verified." in texts(at)
    box = output.regions[number - 1]
    removed = _newest(veil, asset.id)
    assert removed.regions_removed == [box] and box not in removed.regions
    assert "SURF CLUB" in tesseract_reading(_pixels(veil, removed.id), line)   # the reviewer left it visible

    for label, value in zip(("left x0", "top y0", "right x1", "bottom y1"), box):
        widget(at, "number_input", label).set_value(value)
    widget(at, "radio", "What the region covers").set_value("text")
    at = click(at.run(), "Add this region")
    assert f"Regions you drew: [{', '.join(map(str, box))}] as text" in texts(at)
    assert {r["label"]: r["colour"] for r in _drawn_regions(at)}["new text"] == "drawn"
    at = _rendered_by_a_worker(veil, click(at, "Re-render with these changes"))
    drawn = _newest(veil, asset.id)
    assert drawn.regions_added == [box + ["text"]] and drawn.region_kinds[drawn.regions.index(box)] == "text"
    covered = _pixels(veil, drawn.id)[box[1] + 2:box[3] - 2, box[0] + 2:box[2] - 2]
    assert covered.std() < 3, "covered solid, as text is, not blurred"
    assert SLOGAN.split()[0] not in tesseract_reading(_pixels(veil, drawn.id), line)
    assert f"#{drawn.regions.index(box) + 1} · drawn text" in [c for i in at.image for c in i.captions]


def test_removing_the_line_with_the_patients_name_withholds_the_output(veil, tmp_path):
    consent = register(veil)
    photo, line = labelled_photo(tmp_path / "wristband.png", PATIENT[0].upper())
    asset = services.upload_media(veil.records, veil.staff, photo, "wristband.png", consent.id)
    output = services.process(veil.records, veil.staff, asset.id)
    assert output.error is None
    at = app(veil.staff, "app_pages/review.py")
    widget(at, "checkbox", f"Remove #{region_over(output, line)} (text)").check()
    at = _rendered_by_a_worker(veil, click(at.run(), "Re-render with these changes"), "failed")
    newest = _newest(veil, asset.id)
    assert newest.sha256 is None and "identifiers can still be read" in newest.error
    assert f"Verification failed: {newest.error}" in texts(at)
    assert button(at, "Confirm the review").disabled


def _rendered_by_a_worker(veil, at, ends: str = "done"):
    """The page queued the re-render: run it as a worker does, then let the page show the new output."""
    assert run_queued_jobs(veil.records) == [ends]
    return at.run()
