"""Issue 15 in Chromium: staff send a 2 s video and two photos, open another page at once, even reload the
browser while the workers are busy (a new browser session: the page's memory is gone), come back to Intake,
and find all three finished with their previews; nothing was lost, and each file has exactly one output. The
app runs with its worker pool, as `make run` starts it."""
from __future__ import annotations

import re

import pytest

from browser_support import ARTIFACTS, chromium_page, streamlit_app
from records import services
from records.audit import SYSTEM
from test_browser_journey import VIEWPORT, Journey
from ui_fixtures import PASSWORDS, PATIENT, covered_consent_pdf, open_installation
from video_fixtures import phone_clip

pytestmark = pytest.mark.browser


def test_work_goes_on_while_staff_leave_the_page_and_reload_and_every_file_lands_once(tmp_path, monkeypatch,
                                                                                     grace_hopper, planted_jpeg,
                                                                                     planted_png):
    records = open_installation(tmp_path, monkeypatch)
    admin = services.add_user(records, SYSTEM, "admin", PASSWORDS["admin"], "admin")
    services.add_user(records, admin, "sam", PASSWORDS["sam"], "staff")
    clip = phone_clip(tmp_path / "IMG_0042.MOV", grace_hopper, frames=60, rate=30)   # 2 s
    consent = tmp_path / "consent.pdf"
    consent.write_bytes(covered_consent_pdf())
    with streamlit_app(tmp_path) as url, chromium_page(VIEWPORT) as page:
        you = Journey(page)
        try:
            page.goto(url)
            you.sign_in("sam")
            you.go("Intake")
            you.upload("Consent PDF", consent)
            you.fill("Patient's name (as on the consent)", PATIENT[0])
            you.fill("Patient reference (record number)", PATIENT[1])
            you.upload("Photos and videos", clip, planted_jpeg, planted_png)
            you.tick("These files show this consent's patient: go on")   # (the planted name is a test's)
            you.click(re.compile(r"Register and de-identify 3 file"))
            you.see("queued to be read by a worker")   # the consent too: the page reads nothing itself
            you.shot("jobs-queued")

            you.go("Review")                         # at once: the page does not wait for the work
            page.reload()                            # a new browser session (the sign-in is kept by its cookie)
            page.locator("h1").get_by_text("Review", exact=True).first.wait_for()
            you.go("Intake")
            page.get_by_text(re.compile("verified clean")).nth(2).wait_for(timeout=240_000)
            page.get_by_text(re.compile("registered as consent")).first.wait_for(timeout=240_000)
            you.settle()
            you.shot("jobs-finished-with-previews")
            assert page.get_by_text(re.compile("verified clean")).count() == 3
            assert page.locator('[data-testid="stImage"]').count() == 2
            assert page.locator("video").count() == 1
        finally:
            you.shot("jobs-last-view")

    jobs = services.list_jobs(records, admin, everyone=True)
    deid = [j for j in jobs if j.kind == "deid"]
    assert len(deid) == 3 and {j.state for j in deid} == {"done"}
    outputs = services.list_outputs(records, admin)
    assert sorted(o.id for o in outputs) == sorted(j.output_id for j in deid)   # one output per file
    (reading,) = [j for j in jobs if j.kind == "consent"]
    assert reading.state == "done" and {a.consent_id for a in services.list_assets(records, admin)} == {
        reading.consent_id}                                                      # the files linked to it
    assert (ARTIFACTS / "journey").is_dir()
    records.close()
