"""Intake: a batch of photos and videos with the consent PDF (or an existing consent) is kept and queued, and
the page returns at once; the jobs panel shows each file's progress and result as the workers do it (here one
worker's work is done in the test's process between two runs of the page); each file's warnings and errors name
the file; the outputs wait for review and cannot be downloaded here; cancel and retry are buttons."""
from __future__ import annotations

import re

from records import services
from ui.views import CHECKLIST
from conftest import grace_hopper_path
from queue_fixtures import run_queued_jobs
from ui_fixtures import (PATIENT, app, button, click, covered_consent_pdf, not_covered_consent_pdf, register, texts,
                         widget)
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


def _upload_media(at, *files):
    widget(at, "file_uploader", "Photos and videos").set_value(list(files))
    return at.run()


PHOTO = ("anna_smith_2024-03-01.jpg", grace_hopper_path().read_bytes(), "image/jpeg")
NOT_MEDIA = ("scan_notes.jpg", b"these are notes, not a photo", "image/jpeg")


def test_staff_uploads_a_photo_and_its_consent_pdf_and_sees_results_warnings_and_errors(veil):
    at = app(veil.staff, "app_pages/intake.py")
    assert button(at, "Register and de-identify").disabled            # nothing to do yet
    widget(at, "file_uploader", "Consent PDF").set_value(("consent.pdf", covered_consent_pdf(), "application/pdf"))
    at = _upload_media(at.run(), PHOTO, NOT_MEDIA)
    assert button(at, "Register and de-identify 2 file(s)").disabled   # the patient is not named yet
    widget(at, "text_input", "Patient's name").input(PATIENT[0])
    widget(at, "text_input", "Patient reference").input(PATIENT[1])
    at.run()
    assert "**anna\\_smith\\_2024-03-01.jpg** names anna, smith, which match neither the name nor the reference " \
           "of this consent's patient (Ada Example)" in texts(at)
    assert button(at, "Register and de-identify 2 file(s)").disabled   # until a person decides
    widget(at, "checkbox", "These files show this consent's patient").check()
    at = click(at.run(), "Register and de-identify 2 file(s)")

    shown = texts(at)
    assert not at.exception
    assert "consent.pdf: registered as consent" in shown and "social-media use covered" in shown
    assert "anna_smith_2024-03-01.jpg: file name contains a date" in shown
    assert "anna_smith_2024-03-01.jpg: file name contains 2 word(s) that may be a person's name" in shown
    assert "scan_notes.jpg: this is not a photo or video Veil can read" in shown
    assert "0 of 2 file(s) de-identified and verified; they now wait for review. 1 still in progress." in shown
    (bar,) = at.get("progress")
    assert bar.value == 0 and bar.proto.text == "Waiting for a worker"    # queued: the page did no work

    assert run_queued_jobs(veil.records) == ["done"]
    at.run()
    shown = texts(at)
    assert "1 of 2 file(s) de-identified and verified" in shown
    assert re.search(r"anna_smith_2024-03-01.jpg: \d+ region\(s\) redacted", shown) and at.image   # result, preview
    assert not at.download_button                                      # outputs leave only through a release

    (consent,) = services.list_consents(veil.records, veil.admin)
    (asset,) = services.list_assets(veil.records, veil.admin)
    (output,) = services.list_outputs(veil.records, veil.admin)
    assert asset.consent_id == consent.id and output.asset_id == asset.id and not output.reviewed
    held = at.session_state["job_results"]   # a finished result is fetched and decrypted once, not every refresh
    assert list(held) == [output.id] and held[output.id]["preview"] == services.preview_output(
        veil.records, veil.staff, output.id)
    assert services.consent_details(veil.records, veil.admin, consent.id)["patient_name"] == PATIENT[0]


def test_a_consent_the_checker_does_not_find_covering_social_media_is_registered_with_a_warning(veil):
    at = app(veil.staff, "app_pages/intake.py")
    widget(at, "file_uploader", "Consent PDF").set_value(("form.pdf", not_covered_consent_pdf(), "application/pdf"))
    at = _upload_media(at.run(), PHOTO)
    widget(at, "text_input", "Patient's name").input(PATIENT[0])
    widget(at, "text_input", "Patient reference").input(PATIENT[1])
    widget(at.run(), "checkbox", "These files show this consent's patient").check()
    at = click(at.run(), "Register and de-identify 1 file(s)")
    assert "form.pdf: the checker found social-media use not covered; a release will be refused" in texts(at)


def test_media_can_be_added_under_a_consent_already_registered(veil):
    consent = register(veil)
    at = app(veil.staff, "app_pages/intake.py")
    widget(at, "radio", "Consent").set_value("Use a consent already registered")
    at.run()
    widget(at, "selectbox", "Consent").set_value(consent.id)
    at.run()
    assert f"Patient on this consent: **{PATIENT[0]}**" in texts(at)
    widget(_upload_media(at, PHOTO), "checkbox", "These files show this consent's patient").check()
    at = click(at.run(), "De-identify 1 file(s)")
    run_queued_jobs(veil.records)
    assert "1 of 1 file(s) de-identified and verified" in texts(at.run())
    assert [a.consent_id for a in services.list_assets(veil.records, veil.admin)] == [consent.id]
    assert len(services.list_consents(veil.records, veil.admin)) == 1


def test_a_video_goes_through_intake_with_progress_and_into_review(veil, tmp_path, grace_hopper):
    from video_fixtures import phone_clip

    clip = phone_clip(tmp_path / "clip.mov", grace_hopper, frames=12, rate=12)
    consent = register(veil)
    at = app(veil.staff, "app_pages/intake.py")
    widget(at, "radio", "Consent").set_value("Use a consent already registered")
    widget(at.run(), "selectbox", "Consent").set_value(consent.id)
    at = click(_upload_media(at.run(), ("IMG_0042.MOV", clip.read_bytes(), "video/quicktime")),
               "De-identify 1 file(s)")
    assert run_queued_jobs(veil.records) == ["done"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "IMG_0042.MOV: 12 of 12 frame(s) with regions redacted" in texts(at)
    assert at.get("video")
    (output,) = services.list_outputs(veil.records, veil.admin)
    assert output.kind == "video" and output.error is None

    at = app(veil.staff, "app_pages/review.py")
    assert len(at.get("video")) == 2                       # the original and the de-identified clip
    assert "Regions of a video cannot be edited here" in texts(at)
    assert len(at.checkbox) == len(CHECKLIST)              # a video's review is the checklist alone


def test_jobs_outlive_the_session_and_a_person_cancels_and_retries_them_from_the_panel(veil):
    consent = register(veil)
    at = app(veil.staff, "app_pages/intake.py")
    widget(at, "radio", "Consent").set_value("Use a consent already registered")
    widget(at.run(), "selectbox", "Consent").set_value(consent.id)
    widget(_upload_media(at.run(), PHOTO), "checkbox", "These files show this consent's patient").check()
    at = click(at.run(), "De-identify 1 file(s)")
    at = click(at, "Cancel")
    assert "anna_smith_2024-03-01.jpg: cancelled; nothing was kept." in texts(at)
    assert run_queued_jobs(veil.records) == []                          # a cancelled job never runs

    at = app(veil.staff, "app_pages/intake.py")                        # a new session: signed out and in again
    shown = texts(at)
    assert "cancelled; nothing was kept." in shown and "anna_smith" not in shown   # the name stayed in the session
    at = click(at, "Retry")
    assert at.get("progress")[0].proto.text == "Waiting for a worker"
    assert run_queued_jobs(veil.records) == ["done"]
    assert re.search(r"\d+ region\(s\) redacted", texts(at.run())) and at.image
    assert services.list_jobs(veil.records, veil.marketing) == []       # each person sees their own jobs
