"""Release: the gate's answer with every reason; approval for a platform; the release package; the post's
address recorded afterwards. Outputs leave Veil only this way."""
from __future__ import annotations

from records import services
from ui_fixtures import (app, click, has_button, processed_photo, ready_to_release, register, released, texts,
                         widget)
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


def test_the_gate_refuses_with_every_reason_that_stands_in_the_way(veil):
    consent = register(veil)
    asset, output = processed_photo(veil, consent.id)
    pending = services.request_release(veil.records, veil.staff, output.id, "tiktok")
    at = click(app(veil.marketing, "app_pages/release.py"), "Check the gate and approve")
    shown = texts(at)
    assert "The gate refused this release:" in shown
    for reason in ("no person has reviewed the output",
                   "no person has confirmed the consent's scope from the quoted evidence",
                   "the consent names facebook, instagram only, not tiktok",
                   "no person has confirmed that the consent belongs to the patient in the media"):
        assert reason in shown
    assert {r.id: r.status for r in services.list_releases(veil.records, veil.admin)}[pending.id] == "refused"
    assert has_button(at, "Check the gate again and approve")


def test_the_approver_may_not_be_the_uploader(veil):
    consent = register(veil)
    asset, output = processed_photo(veil, consent.id, actor=veil.marketing)
    services.confirm_patient(veil.records, veil.staff, asset.id)
    services.mark_reviewed(veil.records, veil.staff, output.id)
    services.confirm_scope(veil.records, veil.marketing, consent.id, covers_social_media=True,
                           identifiable="deidentified_only")
    services.request_release(veil.records, veil.marketing, output.id, "instagram")
    at = click(app(veil.marketing, "app_pages/release.py"), "Check the gate and approve")
    assert "the approver uploaded this media; a second person must approve (two-person rule)" in texts(at)


def test_marketing_requests_approves_downloads_the_package_and_records_the_post(veil):
    consent, asset, output = ready_to_release(veil)
    at = app(veil.marketing, "app_pages/release.py")
    widget(at, "selectbox", "Platform").set_value("instagram")
    at = click(at, "Request the release")
    assert "requested for instagram" in texts(at)
    at = click(at, "Check the gate and approve")
    assert "approved for instagram: every rule holds" in texts(at)
    (release,) = services.list_releases(veil.records, veil.admin, "released")
    assert release.output_id == output.id and release.consent_id == consent.id

    at = click(at, "Build the release package")
    (download,) = at.download_button
    assert download.label == "Download the release package (zip)"
    assert [e["action"] for e in services.audit_events(veil.records, veil.admin, action="package.exported")]

    widget(at, "text_input", "Post address").input("instagram.com/p/abc")
    at = click(at, "Save the post address")
    assert "Recording the post: the post address must be the post's full web address, starting with https://" \
        in texts(at)
    assert services.list_releases(veil.records, veil.admin)[0].post_url is None
    widget(at, "text_input", "Post address").input("https://www.instagram.com/p/abc/")
    at = click(at, "Save the post address")
    assert f"Post address of release {release.id[:8]} recorded." in texts(at)
    assert services.list_releases(veil.records, veil.admin)[0].post_url == "https://www.instagram.com/p/abc/"


def test_staff_may_request_but_not_approve_nor_download(veil):
    consent, asset, output = ready_to_release(veil)
    at = click(app(veil.staff, "app_pages/release.py"), "Request the release")
    assert "requested for instagram" in texts(at)
    assert "Marketing approves releases." in texts(at)
    assert not has_button(at, "Check the gate and approve")
    released_elsewhere = services.list_releases(veil.records, veil.admin)[0]
    services.approve_release(veil.records, veil.marketing, released_elsewhere.id)
    at = app(veil.staff, "app_pages/release.py")
    assert not has_button(at, "Build the release package") and not at.download_button
    assert not any(f.label.startswith("Post address") for f in at.text_input)


def test_a_package_built_before_a_consent_in_it_was_revoked_can_no_longer_be_downloaded(veil):
    consent, _, _ = released(veil)
    released(veil, patient=("Bea Example", "MRN-000456"))   # another patient's release still stands
    at = click(app(veil.marketing, "app_pages/release.py"), "Build the release package")
    assert [d.label for d in at.download_button] == ["Download the release package (zip)"]
    services.revoke_consent(veil.records, veil.marketing, consent.id, "the patient withdrew")   # at another desk
    at.run()
    assert not at.download_button
    assert "The release package built earlier was withdrawn: a release in it no longer stands." in texts(at)
    assert has_button(at, "Build the release package")


def test_each_reason_comes_with_its_fix_for_whoever_may_take_it(veil):
    consent = register(veil, patient=("Bea Example", "MRN-000456"))
    asset, output = processed_photo(veil, consent.id)          # not reviewed, patient and scope unconfirmed
    services.request_release(veil.records, veil.staff, output.id, "instagram")
    register(veil, patient=("Zed Decoy", "MRN-000999"))           # newer: listed first on the Consents page
    at = app(veil.staff, "app_pages/release.py")
    shown = texts(at)
    assert "**Before approval:** 3 rule(s) do not hold yet" in shown
    assert "To clear it: a person confirms the consent's scope from its quoted evidence (admin or marketing may " \
           "do this)." in shown
    assert not has_button(at, "Confirm the scope on the Consents page")
    assert "The linked consent was signed for **Bea Example** (reference MRN-000456)" in shown

    at = click(at, "Review it on the Review page")             # one click: the Review page, on this output
    assert at.title[0].value == "Review" and widget(at, "selectbox", "Output to review").value == output.id

    at = click(app(veil.marketing, "app_pages/release.py"), "Confirm the scope on the Consents page")
    assert at.title[0].value == "Consents" and f"### Consent {consent.id[:8]}" in texts(at)
    assert [r.status for r in services.list_releases(veil.records, veil.admin)] == ["requested"]   # nothing decided


def test_a_reviewed_output_can_still_be_confirmed_as_the_patients_and_released(veil):
    consent = register(veil)
    asset, output = processed_photo(veil, consent.id)
    services.mark_reviewed(veil.records, veil.staff, output.id)          # no longer on the Review list
    services.confirm_scope(veil.records, veil.marketing, consent.id, covers_social_media=True,
                           identifiable="deidentified_only", platforms=["instagram"])
    services.request_release(veil.records, veil.staff, output.id, "instagram")
    at = click(app(veil.marketing, "app_pages/release.py"), "Check the gate and approve")
    assert "no person has confirmed that the consent belongs to the patient in the media" in texts(at)
    at = click(at, "Yes: the person in this media is the patient named on the consent")
    assert "A person confirmed that this media shows the patient of the consent." in texts(at)
    assert "Every rule holds now: check the gate again." in texts(at)
    at = click(at, "Check the gate again and approve")
    assert "approved for instagram: every rule holds" in texts(at)
