"""The release gate (DESIGN.md): every rule has a refusal with its reason, and every decision, allowed or
refused, is in the audit log with its reasons. Consents are real PDFs judged by the real checker; outputs
are real files made by the real image engine."""
from __future__ import annotations

import datetime as dt

import pytest

from records import services as sv
from records.release_gate import FIXES
from records.services import ScopeConflict
from records.users import PERMISSIONS
from consent_fixtures import self_signed_identity, sign
from records_fixtures import (FACES_NO, PATIENT_NAME, PATIENT_REF, add_people, consent_pdf, make_settings,
                              plain_photo, processed, quick_password_hashing,  # noqa: F401
                              register, sqlite_records)

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def clinic(sqlite_records):
    return sqlite_records, add_people(sqlite_records)


@pytest.fixture
def photo(tmp_path):
    return plain_photo(tmp_path / "photo.jpg")


def approve(records, people, output_id, platform="instagram", approver=None, today=TODAY):
    release = sv.request_release(records, people.staff, output_id, platform)
    return sv.approve_release(records, approver or people.marketing, release.id, today=today)


def refused(decision, code: str, words: str) -> bool:
    assert not decision.allowed
    messages = [r.message for r in decision.reasons if r.code == code]
    assert messages, f"expected a {code!r} refusal, got {decision.as_dict()}"
    assert any(words in m for m in messages), messages
    unfixable = [r.code for r in decision.reasons if r.fix not in FIXES]
    assert not unfixable, f"every refusal names the action that clears it; these do not: {unfixable}"
    return True


# -- allowed -------------------------------------------------------------------------------------------
def test_a_signed_covering_confirmed_consent_and_a_reviewed_output_are_released(clinic):
    records, people = clinic
    consent = register(records, people)
    asset, output = processed(records, people, consent_id=consent.id)
    assert output.regions and output.faces_left == 0 and output.metadata_clean
    decision = approve(records, people, output.id)
    assert decision.allowed and decision.reasons == []
    assert sv.list_releases(records, people.auditor, status="released")[0].output_id == output.id


def test_the_original_is_deleted_once_released(clinic, photo):
    records, people = clinic
    consent = register(records, people)
    asset, output = processed(records, people, photo, consent_id=consent.id)
    assert approve(records, people, output.id).allowed
    assert not sv.list_assets(records, people.staff)[0].original_kept
    assert not records.store.exists(asset.original_sha256)
    with pytest.raises(sv.WorkflowError, match="deleted"):
        sv.view_original(records, people.staff, asset.id)


def test_every_decision_allowed_or_refused_is_audited_with_its_reasons(clinic, photo):
    records, people = clinic
    consent = register(records, people, consent_pdf(grant="I authorize the clinic to post my photographs on "
                                                          "social media, but not on TikTok."))
    _, output = processed(records, people, photo, consent_id=consent.id)
    first = approve(records, people, output.id, "tiktok")
    second = approve(records, people, output.id, "instagram")
    events = sv.audit_events(records, people.auditor, newest_first=False)
    decisions = [e for e in events if e["action"] in ("release.allowed", "release.refused")]
    assert [e["action"] for e in decisions] == ["release.refused", "release.allowed"]
    assert decisions[0]["subject_id"] == first.release_id and decisions[1]["subject_id"] == second.release_id
    assert decisions[0]["details"]["reasons"] == [{"code": "platform_excluded", "message": "the consent excludes tiktok"}]
    assert decisions[0]["details"]["platform"] == "tiktok" and decisions[0]["details"]["consent_id"] == consent.id
    assert decisions[1]["details"]["reasons"] == []
    assert sv.verify_audit(records, people.auditor).ok


def test_all_failing_rules_are_reported_at_once(clinic, photo):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, photo, consent_id=consent.id, review=False, confirm_patient=False)
    decision = approve(records, people, output.id)
    assert set(decision.codes) == {"unreviewed", "patient_unconfirmed"}
    assert [(r.code, r.fix) for r in decision.reasons] == [("unreviewed", "review"),
                                                           ("patient_unconfirmed", "confirm_patient")]


def test_what_stands_in_the_way_is_told_with_each_fix_and_who_may_take_it_without_deciding(clinic, photo):
    records, people = clinic
    assert all(fix.needs in PERMISSIONS for fix in FIXES.values())   # every fix names a permission there is
    consent = register(records, people, confirm=False)
    _, output = processed(records, people, photo, consent_id=consent.id, confirm_patient=False)
    release = sv.request_release(records, people.staff, output.id, "instagram")
    before = len(sv.audit_events(records, people.admin))
    for actor, may_scope in ((people.staff, False), (people.marketing, True)):
        checks = sv.release_obstacles(records, actor, release.id, today=TODAY)
        assert (checks.output_id, checks.consent_id) == (output.id, consent.id)
        fixes = {o.fix: o for o in checks.obstacles}
        assert set(fixes) == {"attest_signature", "confirm_scope", "confirm_patient"}
        assert fixes["confirm_scope"].fix_allowed is may_scope and fixes["confirm_patient"].fix_allowed
        assert fixes["confirm_scope"].fix_roles == ("admin", "marketing")
    assert len(sv.audit_events(records, people.admin)) == before   # nothing was decided nor recorded
    assert sv.list_releases(records, people.admin)[0].status == "requested"


# -- rule 1: the output ------------------------------------------------------------------------------------
def test_no_consent_is_refused(clinic, photo):
    records, people = clinic
    _, output = processed(records, people, photo)
    assert refused(approve(records, people, output.id), "no_consent", "no consent is linked")


def test_an_unreviewed_output_is_refused(clinic, photo):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, photo, consent_id=consent.id, review=False)
    assert refused(approve(records, people, output.id), "unreviewed", "confirmed that no face or other identifier")


def test_an_output_that_failed_verification_is_refused(clinic):
    """The reviewer removes the detected face region: the re-rendered file still shows a face, the second
    detector finds it, the engine withholds the file, and the gate refuses what was recorded."""
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, consent_id=consent.id, review=False)
    failed = sv.rerender_with_edits(records, people.staff, output.id, remove_regions=output.regions)
    assert failed.error and failed.sha256 is None and failed.faces_left and failed.faces_left > 0
    with pytest.raises(sv.WorkflowError, match="failed verification"):
        sv.mark_reviewed(records, people.staff, failed.id)
    assert refused(approve(records, people, failed.id), "verification_failed", "face")


def test_an_output_replaced_in_review_is_refused_and_its_replacement_released(clinic, photo):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, photo, consent_id=consent.id)
    newer = sv.rerender_with_edits(records, people.staff, output.id, add_regions=[[10, 10, 120, 90]])
    assert newer.regions_added == [[10, 10, 120, 90]] and [10, 10, 120, 90] in newer.regions
    assert refused(approve(records, people, output.id), "output_superseded", "replaced")
    sv.mark_reviewed(records, people.staff, newer.id)
    assert approve(records, people, newer.id).allowed


# -- rule 2: signed, active, unexpired --------------------------------------------------------------------
def test_an_unsigned_consent_is_refused_and_cannot_be_attested(clinic, photo):
    records, people = clinic
    consent = register(records, people, consent_pdf(signature=None), confirm=False)
    assert consent.signed is False
    with pytest.raises(ScopeConflict, match="unsigned"):
        sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed",
                         signature_attested=True)
    sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed")
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id), "unsigned", "not signed")


def test_a_typed_signature_without_a_person_attesting_it_is_refused(clinic, photo):
    records, people = clinic
    consent = register(records, people, confirm=False)
    assert consent.signed is True and consent.signature_valid is None
    with pytest.raises(ScopeConflict, match="the signature is handwritten: tick"):   # refused at confirmation,
        sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed")
    _, output = processed(records, people, photo, consent_id=consent.id)            # and by the gate
    assert refused(approve(records, people, output.id), "unsigned", "no person has attested")


def test_an_intact_digital_signature_needs_no_attestation(clinic, photo):
    records, people = clinic
    pdf = sign(consent_pdf(), self_signed_identity("Clinic Front Desk"))
    consent = register(records, people, pdf, attest=False)
    assert consent.signature_valid is True
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert approve(records, people, output.id).allowed


def test_a_digital_signature_broken_after_signing_is_refused(clinic, photo):
    records, people = clinic
    pdf = sign(consent_pdf(), self_signed_identity()) + b"\n% changed after signing\n"
    consent = register(records, people, pdf, confirm=False)
    assert consent.signature_valid is False
    sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed")
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id), "signature_broken", "changed after signing")


def test_an_expired_consent_is_refused(clinic, photo):
    records, people = clinic
    consent = register(records, people, consent_pdf(expiry="This authorization expires on 2026-03-31."))
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id, today=TODAY), "expired", "expired on 2026-03-31")


def test_a_consent_is_refused_on_its_expiry_date_and_allowed_the_day_before(clinic, photo):
    records, people = clinic
    consent = register(records, people, consent_pdf(expiry="This authorization expires on 2026-06-01."))
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id, today=dt.date(2026, 6, 1)), "expired", "2026-06-01")
    assert approve(records, people, output.id, today=dt.date(2026, 5, 31)).allowed


def test_a_person_may_shorten_the_term_but_not_extend_it(clinic, photo):
    records, people = clinic
    consent = register(records, people, confirm=False)
    with pytest.raises(ScopeConflict, match="may not extend"):
        sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed",
                         expires=dt.date(2031, 1, 1), signature_attested=True)
    sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed",
                     expires=dt.date(2026, 5, 1), signature_attested=True)
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id), "expired", "2026-05-01")


def test_a_term_tied_to_an_event_needs_a_date_from_a_person(clinic):
    records, people = clinic
    consent = register(records, people, consent_pdf(expiry="This authorization expires at the end of my treatment."),
                       confirm=False)
    assert consent.has_expiry_event and consent.expires is None
    with pytest.raises(ScopeConflict, match="enter the date"):
        sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed",
                         signature_attested=True)
    confirmed = sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True,
                                 identifiable="allowed", expires=dt.date(2027, 1, 31), signature_attested=True)
    assert confirmed.effective_expiry == "2027-01-31"


def test_a_revoked_consent_is_refused(clinic, photo):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, photo, consent_id=consent.id)
    sv.revoke_consent(records, people.staff, consent.id, "patient phoned")
    release = sv.request_release(records, people.staff, output.id, "instagram")
    assert refused(sv.approve_release(records, people.marketing, release.id, today=TODAY), "revoked", "revoked")


def test_a_consent_superseded_by_a_newer_one_of_the_same_patient_is_refused(clinic, photo):
    records, people = clinic
    older = register(records, people)
    _, output = processed(records, people, photo, consent_id=older.id)
    newer = register(records, people, consent_pdf(grant="I authorize the clinic to post my photographs on Instagram."))
    assert [c.status for c in sv.list_consents(records, people.staff) if c.id == older.id] == ["superseded"]
    assert refused(approve(records, people, output.id), "superseded", "newer consent")
    sv.link_consent(records, people.staff, output.asset_id, newer.id)
    sv.confirm_patient(records, people.staff2, output.asset_id)
    assert approve(records, people, output.id).allowed


def test_a_newer_consent_that_withdraws_social_media_turns_the_older_releases_into_takedowns(clinic, photo):
    records, people = clinic
    older = register(records, people)
    _, output = processed(records, people, photo, consent_id=older.id)
    decision = approve(records, people, output.id)
    newer = sv.register_consent(records, people.staff, consent_pdf(grant="I authorize the clinic to keep my "
                                                                         "photographs in my medical record."),
                                PATIENT_NAME, PATIENT_REF)
    sv.confirm_scope(records, people.marketing, newer.id, covers_social_media=False, identifiable="deidentified_only")
    assert [t.id for t in sv.takedown_tasks(records, people.marketing)] == [decision.release_id]


# -- rule 3: scope -------------------------------------------------------------------------------------------
def test_a_consent_that_does_not_cover_social_media_is_refused_and_cannot_be_confirmed_as_covering(clinic, photo):
    records, people = clinic
    consent = register(records, people, consent_pdf(grant="I authorize the clinic to keep my photographs in my "
                                                          "medical record."), confirm=False)
    assert consent.social_media == "not_covered"
    with pytest.raises(ScopeConflict, match="does not grant social-media use"):
        sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed")
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id), "not_covered", "does not cover social media")


def test_an_unclear_unconfirmed_consent_is_refused_until_a_person_confirms_it(clinic, photo):
    records, people = clinic
    pdf = consent_pdf(grant="I authorize the clinic to post my photographs on social media.",
                      extra="I do not authorize social media use.")
    consent = register(records, people, pdf, confirm=False)
    assert consent.social_media == "unclear"
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id), "unconfirmed", "unclear about social media")
    sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True,
                     identifiable="deidentified_only", signature_attested=True)
    assert approve(records, people, output.id).allowed


def test_a_covered_but_unconfirmed_consent_is_refused(clinic, photo):
    records, people = clinic
    consent = register(records, people, confirm=False)
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id), "unconfirmed", "no person has confirmed")


def test_an_excluded_platform_is_refused(clinic, photo):
    records, people = clinic
    consent = register(records, people, consent_pdf(grant="I authorize the clinic to post my photographs on "
                                                          "social media, but not on TikTok."))
    assert consent.excluded_platforms == ["tiktok"]
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id, "TikTok"), "platform_excluded", "excludes tiktok")


def test_a_platform_the_consent_does_not_name_is_refused(clinic, photo):
    records, people = clinic
    consent = register(records, people, consent_pdf(grant="I authorize the clinic to post my photographs on "
                                                          "Instagram and Facebook."))
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id, "youtube"), "platform_not_granted", "not youtube")
    assert approve(records, people, output.id, "facebook").allowed


def test_a_person_may_narrow_platforms_but_not_add_one(clinic, photo):
    records, people = clinic
    consent = register(records, people, consent_pdf(grant="I authorize the clinic to post my photographs on "
                                                          "Instagram and Facebook."), confirm=False)
    with pytest.raises(ScopeConflict, match="names instagram, facebook only"):
        sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed",
                         platforms=["instagram", "tiktok"])
    sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed",
                     platforms=["instagram"], signature_attested=True)
    _, output = processed(records, people, photo, consent_id=consent.id)
    assert refused(approve(records, people, output.id, "facebook"), "platform_not_granted", "instagram only")


def test_a_deidentified_only_consent_refuses_an_identifiable_output(clinic):
    records, people = clinic
    consent = register(records, people, consent_pdf(faces=FACES_NO), identifiable="deidentified_only")
    assert consent.identifiable == "deidentified_only"
    with pytest.raises(ScopeConflict, match="de-identified images only"):
        sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True, identifiable="allowed")
    _, output = processed(records, people, consent_id=consent.id, profile="identifiable")
    assert output.keeps_faces   # faces kept (text such as her badge is still redacted)
    assert refused(approve(records, people, output.id), "identifiable_not_allowed", "de-identified images only")


def test_a_deidentified_only_consent_admits_a_deidentified_output(clinic):
    records, people = clinic
    consent = register(records, people, consent_pdf(faces=FACES_NO), identifiable="deidentified_only")
    _, output = processed(records, people, consent_id=consent.id, profile="default")
    assert approve(records, people, output.id).allowed


def test_a_consent_allowing_identifiable_images_admits_the_identifiable_profile(clinic):
    records, people = clinic
    consent = register(records, people, identifiable="allowed")
    assert consent.identifiable == "allowed"
    _, output = processed(records, people, consent_id=consent.id, profile="identifiable")
    assert output.keeps_faces and output.profile["id"] == "identifiable"
    assert approve(records, people, output.id).allowed


def test_an_identifiable_output_needs_a_person_to_confirm_identifiable_use(clinic):
    records, people = clinic
    consent = register(records, people, identifiable="deidentified_only")   # the document allows faces
    _, output = processed(records, people, consent_id=consent.id, profile="identifiable")
    assert refused(approve(records, people, output.id), "identifiable_not_allowed", "no person confirmed")


def test_media_whose_patient_no_one_confirmed_is_refused(clinic, photo):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, photo, consent_id=consent.id, confirm_patient=False)
    assert refused(approve(records, people, output.id), "patient_unconfirmed", "belongs to the patient")


def test_relinking_media_to_another_consent_asks_again_whose_it_is(clinic, photo):
    records, people = clinic
    first = register(records, people)
    asset, output = processed(records, people, photo, consent_id=first.id)
    second = sv.register_consent(records, people.staff, consent_pdf(extra="Another patient's form."), "Another Person",
                                 "MRN-999")
    sv.link_consent(records, people.staff, asset.id, second.id)
    assert refused(approve(records, people, output.id), "patient_unconfirmed", "belongs to the patient")


# -- rule 4: two people ------------------------------------------------------------------------------------
def test_the_uploader_cannot_approve_their_own_media(clinic, photo):
    records, people = clinic
    consent = register(records, people)
    asset = sv.upload_media(records, people.marketing, photo, "photo.jpg", consent.id)
    output = sv.process(records, people.marketing, asset.id)
    sv.mark_reviewed(records, people.marketing, output.id)
    sv.confirm_patient(records, people.marketing, asset.id)
    assert refused(approve(records, people, output.id), "approver_is_uploader", "two-person rule")


def test_the_two_person_rule_can_be_switched_off(tmp_path, photo):
    records = sv.open_records(make_settings(tmp_path / "solo", two_person_rule=False))
    try:
        people = add_people(records)
        consent = register(records, people)
        asset = sv.upload_media(records, people.marketing, photo, "photo.jpg", consent.id)
        output = sv.mark_reviewed(records, people.marketing, sv.process(records, people.marketing, asset.id).id)
        sv.confirm_patient(records, people.marketing, asset.id)
        assert approve(records, people, output.id).allowed
    finally:
        records.close()


# -- after approval ------------------------------------------------------------------------------------------
def test_a_released_file_cannot_leave_once_its_consent_has_ended_even_before_housekeeping_notices(clinic, photo,
                                                                                                  tmp_path):
    records, people = clinic
    consent = register(records, people, consent_pdf(expiry="This authorization expires on 2026-12-31."))
    _, output = processed(records, people, photo, consent_id=consent.id)
    decision = approve(records, people, output.id)
    assert sv.download_output(records, people.marketing, output.id, today=dt.date(2026, 12, 30))[0] == output.name
    with pytest.raises(sv.WorkflowError, match="no longer be downloaded: the consent expired on 2026-12-31"):
        sv.download_output(records, people.marketing, output.id, today=dt.date(2026, 12, 31))
    with pytest.raises(sv.WorkflowError, match="expired on 2026-12-31.*only standing releases"):
        sv.export_package(records, people.marketing, [decision.release_id], tmp_path / "pkg",
                          today=dt.date(2027, 1, 1))
    assert not list((tmp_path / "pkg").iterdir())


def test_a_package_of_nothing_is_refused(clinic, tmp_path):
    records, people = clinic
    with pytest.raises(sv.WorkflowError, match="at least one standing release"):
        sv.export_package(records, people.marketing, [], tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


# -- who may decide ------------------------------------------------------------------------------------------
def test_staff_and_auditors_cannot_approve_or_confirm_scope(clinic, photo):
    records, people = clinic
    consent = register(records, people, confirm=False)
    for actor in (people.staff, people.auditor):
        with pytest.raises(sv.PermissionDenied, match="may not confirm scope"):
            sv.confirm_scope(records, actor, consent.id, covers_social_media=True, identifiable="allowed")
    _, output = processed(records, people, photo, consent_id=consent.id)
    release = sv.request_release(records, people.staff, output.id, "instagram")
    for actor in (people.staff, people.auditor):
        with pytest.raises(sv.PermissionDenied, match="may not approve release"):
            sv.approve_release(records, actor, release.id)
    assert not [e for e in sv.audit_events(records, people.admin) if e["action"].startswith("release.allowed")]


def test_a_release_already_decided_cannot_be_approved_again(clinic, photo):
    records, people = clinic
    consent = register(records, people)
    _, output = processed(records, people, photo, consent_id=consent.id)
    decision = approve(records, people, output.id)
    with pytest.raises(sv.WorkflowError, match="already released"):
        sv.approve_release(records, people.marketing, decision.release_id)


def test_the_patient_name_on_the_consent_is_shown_to_review_and_its_viewing_audited(clinic):
    records, people = clinic
    consent = register(records, people)
    details = sv.consent_details(records, people.staff, consent.id)
    assert details["patient_name"] == PATIENT_NAME and details["patient_ref"] == PATIENT_REF
    assert any("social media" in e["text"] for e in details["evidence"])
    viewed = sv.audit_events(records, people.admin, action="consent.viewed")
    assert viewed[0]["actor"] == "sam.staff" and viewed[0]["details"] == {}
