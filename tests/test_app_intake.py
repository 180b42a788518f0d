"""Intake: a batch of photos and videos with the consent PDF (or an existing consent) is kept and queued, and
the page returns at once; a new consent PDF is read by a worker too, which links the files to the consent it
registers (their photos already rendered are read again for the patient's name and reference); a refused PDF
leaves them kept without a consent, and the panel says why. The jobs panel shows each file's and the consent's
progress and result as the workers do it (here one worker's work is done in the test's process between two
runs of the page; one test runs a real pool); each file's warnings and errors name the file; the outputs wait
for review and cannot be downloaded here; cancel and retry are buttons."""
from __future__ import annotations

import re

from sqlalchemy import select

from records import services
from records.models import Job, Output
from ui.views import CHECKLIST
from conftest import grace_hopper_path
from queue_fixtures import installation_env, run_queued_jobs, wait_for_job, worker_pool
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
    assert "consent.pdf: queued to be read by a worker" in shown and "1 file(s) kept are de-identified" in shown
    assert "anna_smith_2024-03-01.jpg: file name contains a date" in shown
    assert "anna_smith_2024-03-01.jpg: file name contains 2 word(s) that may be a person's name" in shown
    assert "scan_notes.jpg: this is not a photo or video Veil can read" in shown
    assert "0 of 2 file(s) de-identified and verified; they now wait for review. 1 still in progress." in shown
    bars = at.get("progress")   # queued: the page did no work, neither the file's nor the consent's reading
    assert [(b.value, b.proto.text) for b in bars] == [(0, "Waiting for a worker to read the consent"),
                                                       (0, "Waiting for a worker")]   # newest first
    assert services.list_consents(veil.records, veil.admin) == []
    (asset,) = services.list_assets(veil.records, veil.admin)
    assert asset.consent_id is None                                    # kept, and linked once the PDF is read
    (confirmed,) = services.audit_events(veil.records, veil.admin, action="media.other_name_confirmed")
    assert confirmed["details"]["words"] == 2                          # checked against the patient as typed

    assert run_queued_jobs(veil.records) == ["done", "done"]            # the photo, then the consent
    at.run()
    shown = texts(at)
    (consent,) = services.list_consents(veil.records, veil.admin)
    assert f"consent.pdf: registered as consent {consent.id[:8]}" in shown
    assert "1 of 2 file(s) de-identified and verified" in shown
    assert re.search(r"anna_smith_2024-03-01.jpg: \d+ region\(s\) redacted", shown) and at.image   # result, preview
    assert not at.download_button                                      # outputs leave only through a release

    (asset,) = services.list_assets(veil.records, veil.admin)
    (output,) = services.list_outputs(veil.records, veil.admin)
    assert asset.consent_id == consent.id and output.asset_id == asset.id and not output.reviewed
    assert checked_for(veil.records, output.id) == consent.id         # read again for this patient's identifiers
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
    assert run_queued_jobs(veil.records) == ["done", "done"]
    assert "form.pdf: the checker found social-media use not covered; a release will be refused" in texts(at.run())


def checked_for(records, output_id: str) -> str | None:
    """The consent whose patient's identifiers the output was read for (the gate's rule)."""
    with records.db.reading() as session:
        return session.get(Output, output_id).identifiers_consent_id


def _send_with_pdf(at, pdf: tuple, *media):
    widget(at, "file_uploader", "Consent PDF").set_value(pdf)
    at = _upload_media(at.run(), *media)
    widget(at, "text_input", "Patient's name").input(PATIENT[0])
    widget(at, "text_input", "Patient reference").input(PATIENT[1])
    at.run()
    if at.checkbox:
        widget(at, "checkbox", "These files show this consent's patient").check()
    return click(at.run(), f"Register and de-identify {len(media)} file(s)")


def test_a_refused_consent_leaves_the_media_kept_without_one_and_the_panel_says_why(veil):
    broken = ("signed_form.pdf", b"%PDF-1.7\nnot a PDF after all\n" * 40, "application/pdf")
    at = _send_with_pdf(app(veil.staff, "app_pages/intake.py"), broken, PHOTO)
    assert run_queued_jobs(veil.records) == ["done", "failed"]
    shown = texts(at.run())
    assert "signed\\_form.pdf: consent refused: this PDF cannot be read" in shown
    assert "stay kept without a consent, so they cannot be released; link them to a consent in Review" in shown
    assert "1 of 1 file(s) de-identified and verified" in shown
    assert services.list_consents(veil.records, veil.admin) == []
    (asset,) = services.list_assets(veil.records, veil.admin)
    (output,) = services.list_outputs(veil.records, veil.admin)
    assert asset.consent_id is None and output.error is None and checked_for(veil.records, output.id) is None

    # the same files with a readable consent: the kept photo is taken again, not copied, and linked
    readable = covered_consent_pdf()
    at = _send_with_pdf(app(veil.staff, "app_pages/intake.py"), ("consent.pdf", readable, "application/pdf"), PHOTO)
    assert "kept already" in texts(at) and len(services.list_assets(veil.records, veil.admin)) == 1
    run_queued_jobs(veil.records)
    (consent,) = services.list_consents(veil.records, veil.admin)
    assert [a.consent_id for a in services.list_assets(veil.records, veil.admin)] == [consent.id]
    assert checked_for(veil.records, output.id) == consent.id

    # the same PDF again: its consent is found without reading it, and no second reading is queued
    at = _send_with_pdf(app(veil.staff, "app_pages/intake.py"), ("copy.pdf", readable, "application/pdf"), PHOTO)
    assert f"copy.pdf: already registered as consent {consent.id[:8]}" in texts(at)
    assert sum(j.kind == "consent" for j in services.list_jobs(veil.records, veil.staff)) == 2

    with veil.records.db.reading() as session:   # no name, reference or file name in a job or the audit log
        rows = repr([[getattr(j, c.name) for c in Job.__table__.columns] for j in session.scalars(select(Job))])
    seen = (rows + repr(services.audit_events(veil.records, veil.admin))).lower()
    assert [w for w in ("ada example", "mrn-000123", "anna", "smith", "signed_form", "copy.pdf") if w in seen] == []


def test_a_real_worker_pool_reads_the_consent_sent_with_the_files_and_links_them(veil):
    at = _send_with_pdf(app(veil.staff, "app_pages/intake.py"),
                        ("consent.pdf", covered_consent_pdf(), "application/pdf"), PHOTO)
    assert services.list_consents(veil.records, veil.admin) == []      # the page returned without reading it
    (deid, reading) = sorted(services.list_jobs(veil.records, veil.staff), key=lambda j: j.kind != "deid")
    assert (deid.state, reading.state, reading.kind) == ("queued", "queued", "consent")

    settings = veil.records.settings
    with worker_pool(installation_env(settings), settings.data_dir / "pool.log"):
        assert wait_for_job(veil.records, veil.staff, deid.id).state == "done"
        done = wait_for_job(veil.records, veil.staff, reading.id)
    assert done.state == "done" and done.error is None
    (asset,) = services.list_assets(veil.records, veil.admin)
    (output,) = services.list_outputs(veil.records, veil.admin)
    assert asset.consent_id == done.consent_id and checked_for(veil.records, output.id) == done.consent_id
    checked = services.audit_events(veil.records, veil.admin, action="output.identifiers_checked")
    assert [e["subject_id"] for e in checked] == [output.id]           # read again by the worker, in process
    assert "registered as consent" in texts(at.run())


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
