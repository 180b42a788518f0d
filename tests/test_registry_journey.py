"""The whole journey through the records, on SQLite and on a real PostgreSQL server: consent, media,
processing, review, release, package, look-up, revocation and takedown, retention. Afterwards the data
folder holds no plaintext PHI: not the patient's name, not the original file name, not the original bytes."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from records import services as sv
from records.crypto import KeyFileError
from records_fixtures import (ORIGINAL_NAME, PATIENT_NAME, PATIENT_REF, backend, consent_pdf,  # noqa: F401
                              grace_hopper_path, people, pg_server, plain_photo, processed,
                              quick_password_hashing, records, register)


def journey(records, people, tmp_path) -> dict:
    consent = register(records, people)
    asset = sv.upload_media(records, people.staff, grace_hopper_path(), ORIGINAL_NAME, consent.id)
    output = sv.process(records, people.staff, asset.id)
    output = sv.rerender_with_edits(records, people.staff, output.id, add_regions=[[0, 500, 80, 600]])
    sv.mark_reviewed(records, people.staff2, output.id)
    sv.confirm_patient(records, people.staff2, asset.id)
    sv.consent_details(records, people.marketing, consent.id)
    sv.view_consent_pdf(records, people.auditor, consent.id)
    sv.view_original(records, people.staff, asset.id)
    release = sv.request_release(records, people.staff, output.id, "instagram")
    decision = sv.approve_release(records, people.marketing, release.id)
    assert decision.allowed, decision.as_dict()
    sv.record_post(records, people.marketing, release.id, "https://www.instagram.com/p/VeilTest123/")
    package = sv.export_package(records, people.marketing, [release.id], tmp_path / "export")
    posted = next(p for p in package.iterdir() if p.suffix == ".jpg")
    sv.find_file(records, people.auditor, posted)
    return {"consent": consent, "asset": asset, "output": output, "release": release, "package": package}


def test_a_full_journey_links_the_published_file_to_its_consent_and_approvers(records, people, tmp_path):
    done = journey(records, people, tmp_path)
    manifest = json.loads((done["package"] / "manifest.json").read_text())
    [entry] = manifest["files"]
    assert entry["file"] == done["output"].name and entry["sha256"] == done["output"].sha256
    assert entry["consent_id"] == done["consent"].id and entry["platform"] == "instagram"
    assert entry["scope"] == {"social_media": True, "platforms": [], "excluded_platforms": [],
                              "identifiable": "allowed"}
    assert entry["expires"] == "2030-12-31"
    assert entry["profile"]["id"] == "default" and len(entry["profile"]["sha256"]) == 64
    assert (entry["reviewer"], entry["approver"]) == ("sol.staff", "mia.marketing")
    assert sorted(p.name for p in done["package"].iterdir()) == sorted(["manifest.json", done["output"].name])
    text = (done["package"] / "manifest.json").read_text()
    assert PATIENT_NAME not in text and "rosalind" not in text.lower() and PATIENT_REF not in text
    actions = [e["action"] for e in sv.audit_events(records, people.auditor, newest_first=False)]
    for expected in ("consent.registered", "consent.confirmed", "media.uploaded", "output.created",
                     "output.reviewed", "media.patient_confirmed", "consent.viewed", "consent.pdf_viewed",
                     "media.original_viewed", "release.requested", "release.allowed", "media.original_deleted",
                     "release.posted", "package.exported", "lookup"):
        assert expected in actions
    assert sv.verify_audit(records, people.auditor).ok


def _needles() -> dict[str, bytes]:
    original = grace_hopper_path().read_bytes()
    pdf = consent_pdf()
    needles = {"patient name": PATIENT_NAME.encode(), "patient name (UTF-16)": PATIENT_NAME.encode("utf-16-le"),
               "patient surname": b"Quennell", "patient reference": PATIENT_REF.encode(),
               "original file name": ORIGINAL_NAME.encode(), "original file stem": Path(ORIGINAL_NAME).stem.encode()}
    for offset in range(2048, len(original) - 256, len(original) // 8):
        needles[f"original bytes at {offset}"] = original[offset:offset + 256]
    needles["consent PDF bytes"] = pdf[len(pdf) // 2:len(pdf) // 2 + 256]
    return needles


def _files(*roots: Path):
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path


def test_after_the_journey_no_plaintext_phi_is_on_disk(request, records, people, tmp_path, backend):
    journey(records, people, tmp_path)
    assert not list(records.settings.work_dir.iterdir()), "decrypted originals left in the work folder"
    sv.revoke_consent(records, people.staff, sv.list_consents(records, people.staff)[0].id, "the patient withdrew")
    sv.housekeeping(records, people.admin, grace_seconds=0)
    records.close()   # checkpoint nothing away: the WAL and journal files are scanned as they are
    roots = [records.settings.data_dir]
    if backend == "postgresql":
        roots.append(request.getfixturevalue("pg_server").root)
    needles = _needles()
    scanned = 0
    for path in _files(*roots):
        data = path.read_bytes()
        scanned += 1
        for what, needle in needles.items():
            assert needle not in data, f"{what} found in plaintext in {path}"
        assert path.name != ORIGINAL_NAME
    assert scanned >= 3
    assert not list((records.settings.data_dir / "work").iterdir())


def test_a_revoked_consent_turns_its_releases_into_takedown_tasks_and_blocks_its_outputs(records, people, tmp_path):
    done = journey(records, people, tmp_path)
    other_output = done["output"]
    pending = sv.request_release(records, people.staff, other_output.id, "facebook")
    assert sv.download_output(records, people.marketing, other_output.id)[0] == other_output.name
    takedowns = sv.revoke_consent(records, people.staff, done["consent"].id, "the patient withdrew")
    assert takedowns == [done["release"].id]
    tasks = sv.takedown_tasks(records, people.marketing)
    assert [(t.id, t.takedown, t.post_url) for t in tasks] == [
        (done["release"].id, "pending", "https://www.instagram.com/p/VeilTest123/")]
    assert [r.status for r in sv.list_releases(records, people.auditor) if r.id == pending.id] == ["withdrawn"]
    with pytest.raises(sv.WorkflowError, match="revoked"):
        sv.download_output(records, people.marketing, other_output.id)
    with pytest.raises(sv.WorkflowError, match="only standing releases"):
        sv.export_package(records, people.marketing, [done["release"].id], tmp_path / "again")
    assert not list((tmp_path / "again").glob("*"))
    done_task = sv.complete_takedown(records, people.marketing, done["release"].id)
    assert done_task.takedown == "done" and sv.takedown_tasks(records, people.marketing) == []
    with pytest.raises(sv.WorkflowError, match="already revoked"):
        sv.revoke_consent(records, people.staff, done["consent"].id)


def test_a_patients_consents_are_found_by_reference_without_the_reference_being_stored(records, people):
    first = register(records, people)
    second = register(records, people, consent_pdf(expiry="This authorization expires on 2031-06-30."))
    sv.register_consent(records, people.staff, consent_pdf(extra="Another patient's form."), "Another Person",
                        "MRN-999")
    found = sv.find_consents(records, people.auditor, "  mrn-0047711 ")
    assert [(c.id, c.status) for c in found] == [(second.id, "active"), (first.id, "superseded")]
    assert sv.find_consents(records, people.auditor, "MRN-404") == []
    with pytest.raises(sv.WorkflowError, match="enter the patient's reference"):
        sv.find_consents(records, people.auditor, " ")
    searches = sv.audit_events(records, people.admin, action="consent.searched", newest_first=False)
    assert [e["details"] for e in searches] == [{"found": [second.id, first.id]}, {"found": []}]
    assert PATIENT_REF not in str(searches) and "0047711" not in str(searches)


def test_a_post_address_must_be_a_web_address(records, people, tmp_path):
    consent = register(records, people)
    _, output = processed(records, people, plain_photo(tmp_path / "p.jpg"), consent_id=consent.id)
    release_id = sv.approve_release(records, people.marketing,
                                    sv.request_release(records, people.staff, output.id, "instagram").id).release_id
    sv.record_post(records, people.marketing, release_id, "https://www.instagram.com/p/VeilTest123/")
    for bad in ("instagram.com/p/VeilTest123", "javascript:alert(1)", "ftp://example.org/post", "https://",
                "https://www.instagram.com/p/Veil Test", "https://[::1/p"):
        with pytest.raises(sv.WorkflowError, match="full web address, starting with https://"):
            sv.record_post(records, people.marketing, release_id, bad)
    assert sv.list_releases(records, people.auditor)[0].post_url == "https://www.instagram.com/p/VeilTest123/"
    assert sv.record_post(records, people.marketing, release_id, " HTTPS://www.tiktok.com/@clinic/video/1 ").post_url \
        == "HTTPS://www.tiktok.com/@clinic/video/1"


def test_an_unreleased_output_cannot_be_downloaded(records, people, tmp_path):
    consent = register(records, people)
    _, output = processed(records, people, plain_photo(tmp_path / "p.jpg"), consent_id=consent.id)
    with pytest.raises(sv.WorkflowError, match="only a released output"):
        sv.download_output(records, people.marketing, output.id)


def test_retention_deletes_unreleased_originals_and_old_consent_pdfs_and_expires_consents(records, people, tmp_path):
    consent = register(records, people, consent_pdf(expiry="This authorization expires on 2031-01-15."))
    asset, output = processed(records, people, plain_photo(tmp_path / "p.jpg"), consent_id=consent.id)
    release = sv.request_release(records, people.staff, output.id, "instagram")
    assert sv.approve_release(records, people.marketing, release.id, today=dt.date(2027, 1, 1)).allowed
    unreleased = sv.upload_media(records, people.staff, plain_photo(tmp_path / "q.jpg", seed=4), "q.jpg", consent.id)
    report = sv.housekeeping(records, people.admin, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31))
    assert report["originals_and_pdfs_deleted"] == 1
    kept = {a.id: a.original_kept for a in sv.list_assets(records, people.staff)}
    assert kept == {asset.id: False, unreleased.id: False}
    assert not records.store.exists(unreleased.original_sha256)
    assert sv.list_consents(records, people.staff)[0].pdf_kept
    later = dt.datetime(2031, 1, 15, 12, tzinfo=dt.timezone.utc)
    report = sv.housekeeping(records, people.admin, now=later)
    assert report["expired"] == 1
    [view] = sv.list_consents(records, people.staff)
    assert view.status == "expired"
    assert [t.id for t in sv.takedown_tasks(records, people.marketing)] == [release.id]
    sv.housekeeping(records, people.admin, now=later.replace(year=2033))
    assert not sv.list_consents(records, people.staff)[0].pdf_kept
    with pytest.raises(sv.WorkflowError, match="retention"):
        sv.view_consent_pdf(records, people.auditor, consent.id)
    assert sv.verify_audit(records, people.auditor).ok


def test_records_survive_a_restart_and_another_installations_key_is_refused(records, people, tmp_path):
    consent = register(records, people)
    settings = records.settings
    records.close()
    reopened = sv.open_records(settings)
    try:
        assert sv.consent_details(reopened, people.staff, consent.id)["patient_name"] == PATIENT_NAME
    finally:
        reopened.close()
    with pytest.raises(KeyFileError, match="does not belong to this database"):
        sv.open_records(settings.with_(key_file=tmp_path / "another-installation" / "keyset.json"))


def test_a_file_that_is_not_a_photo_or_video_is_refused_at_upload(records, people, tmp_path):
    with pytest.raises(sv.WorkflowError, match="PDF document, not a photo or video"):
        sv.upload_media(records, people.staff, consent_pdf(), "scan.pdf")
    with pytest.raises(sv.WorkflowError, match="not a photo or video"):
        sv.upload_media(records, people.staff, b"hello, this is text", "notes.txt")
    assert sv.list_assets(records, people.staff) == []


def test_an_unreadable_upload_is_refused_without_echoing_its_name(records, people, tmp_path):
    missing = tmp_path / ORIGINAL_NAME
    with pytest.raises(sv.WorkflowError) as upload:
        sv.upload_media(records, people.staff, missing, ORIGINAL_NAME)
    with pytest.raises(sv.WorkflowError) as consent:
        sv.register_consent(records, people.staff, tmp_path / "Quennell consent.pdf", PATIENT_NAME, PATIENT_REF)
    assert "Quennell" not in str(upload.value) + str(consent.value)
    assert "could not be read" in str(upload.value) and "could not be read" in str(consent.value)
