"""A consent signed in Veil: the form's versioned text, the drawn signature's checks, the rendered form and
its seal (pyHanko and poppler's pdfsig both validate it; one changed byte breaks it), the installation's
own certificate and the clinic's PKCS#12."""
from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select

from consent import form_versions
from consent.check import check_pdf
from consent.form_versions import FormVersionError, current_version, ledger, load_version, text_sha256
from consent.signature_pad import Signature, signature_png, signature_problem, strokes_from_fabric
from consent.signed_form import form_properties
from consent.signatures import check_signatures
from consent_fixtures import self_signed_identity, write
from records import audit
from records import services as sv
from records.audit import SYSTEM
from records.models import Installation
from records.signing import SigningError, seal, sealing_identity, trust_roots
from records_fixtures import make_settings
from tablet_fixtures import ANSWERS, PAD, PATIENT, declined, signature, unsealed_form
from ui_fixtures import people_template, veil  # noqa: F401


@pytest.fixture
def veil_records(tmp_path):
    opened = sv.open_records(make_settings(tmp_path))
    yield opened
    opened.close()


def sealed(records, language: str = "en", answers: dict = ANSWERS) -> bytes:
    return seal(unsealed_form(language, answers), sealing_identity(records, SYSTEM))


# -- the form's versions -------------------------------------------------------------------------------------
def test_every_version_in_the_ledger_still_has_exactly_its_text():
    entries = ledger()
    assert len({e["id"] for e in entries}) == len(entries)
    for entry in entries:
        version = load_version(entry["id"])
        assert version.sha256 == entry["sha256"] == text_sha256(version.spec)
    assert {current_version(language).language for language in ("en", "es")} == {"en", "es"}


def test_a_changed_word_makes_a_new_version_and_comments_do_not(tmp_path, monkeypatch):
    english = form_versions.ASSET_DIR / "model_form.toml"
    folder = tmp_path / "forms"
    shutil.copytree(form_versions.ASSET_DIR, folder)
    monkeypatch.setattr(form_versions, "ASSET_DIR", folder)
    monkeypatch.setattr(form_versions, "LEDGER", folder / "versions.toml")
    (folder / "model_form.toml").write_text("# a new comment changes nothing\n" + english.read_text())
    assert current_version("en").sha256 == load_version("en-1").sha256
    (folder / "model_form.toml").write_text(english.read_text().replace("Tick each box", "Tick every box"))
    with pytest.raises(FormVersionError, match="not version en-1 any more"):
        current_version("en")


def test_an_unknown_version_or_language_is_refused():
    with pytest.raises(FormVersionError, match="en-999"):
        load_version("en-999")
    with pytest.raises(FormVersionError, match="'fr'"):
        current_version("fr")


# -- the drawn signature -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("strokes, share, why", [
    (0, 0.6, "empty"), (1, 0.6, "single stroke"), (2, 0.15, "too small")])
def test_an_empty_or_trivial_signature_is_refused(strokes, share, why):
    drawn = Signature.of([] if strokes == 0 else signature(share, strokes).strokes, *PAD)
    assert why in signature_problem(drawn)


def test_two_strokes_spanning_a_fifth_of_the_pad_are_a_signature():
    assert signature_problem(signature(0.21, 2)) is None
    assert signature_png(signature()).startswith(b"\x89PNG")


def test_strokes_are_read_from_the_pads_fabric_drawing():
    path = {"type": "Path", "originX": "center", "originY": "center", "left": 75.0, "top": 100.0, "width": 50.0,
            "height": 20.0, "scaleX": 1, "scaleY": 1,
            "path": [["M", 50, 90], ["Q", 60, 100, 75, 100], ["L", 100, 110]]}
    moved = {**path, "left": 275.0}   # the patient dragged the stroke 200 px to the right
    strokes = strokes_from_fabric({"objects": [path, moved, {"type": "Rect"}]})
    assert strokes[0] == [(50, 90), (60, 100), (75, 100), (100, 110)]
    assert strokes[1] == [(250, 90), (260, 100), (275, 100), (300, 110)]
    assert strokes_from_fabric(None) == []


# -- the seal ------------------------------------------------------------------------------------------------------
def test_the_sealed_form_validates_with_pyhanko_and_pdfsig(tmp_path, veil_records):
    data = sealed(veil_records)
    checks = check_signatures(data, trust_roots(veil_records))
    assert [(c.field, c.intact, c.coverage, c.modifications, c.trusted) for c in checks] == [
        ("signature", True, "entire_file", "none", True)]
    report = subprocess.run(["pdfsig", str(write(tmp_path, "sealed.pdf", data))], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    assert "Signature Validation: Signature is Valid." in report.stdout
    assert "Total document signed" in report.stdout
    assert "ETSI.CAdES.detached" in report.stdout


def test_the_sealed_form_reads_covered_with_the_patients_choices(tmp_path, veil_records):
    result = check_pdf(write(tmp_path, "sealed.pdf", sealed(veil_records)), trust_roots=trust_roots(veil_records))
    assert result.social_media == "covered"
    assert result.platforms == ["instagram", "facebook"]
    assert result.identifiable == "allowed"
    assert result.expires == "2030-06-30"
    assert result.signed is True and result.signature_valid is True and result.signer_trusted is True
    grants = [e["text"] for e in result.evidence if e["about"] == "grant"]
    assert any("I authorize the clinic to publish these photographs and videos on its own social media" in g
               and "☒ Instagram" in g for g in grants)


def test_the_spanish_form_reads_covered(tmp_path, veil_records):
    result = check_pdf(write(tmp_path, "es.pdf", sealed(veil_records, "es")), trust_roots=trust_roots(veil_records))
    assert (result.social_media, result.platforms, result.signature_valid) == (
        "covered", ["instagram", "facebook"], True)
    assert any("Autorizo a la clínica a publicar" in e["text"] for e in result.evidence if e["about"] == "grant")


def test_declining_social_media_reads_not_covered(tmp_path, veil_records):
    result = check_pdf(write(tmp_path, "no.pdf", sealed(veil_records, answers=declined())))
    assert result.social_media == "not_covered" and result.signature_valid is True


def test_the_form_version_and_its_hash_are_in_the_sealed_pdf(veil_records):
    data = sealed(veil_records)
    version = current_version("en")
    assert form_properties(data) == {"form_version": version.id, "form_sha256": version.sha256,
                                     "document_id": "0" * 31 + "1"}
    last_page = PdfReader(io.BytesIO(data)).pages[-1].extract_text()
    assert version.sha256 in last_page and "Witnessed by (clinic staff): sam" in last_page


def test_one_changed_byte_breaks_the_seal(tmp_path, veil_records):
    data = bytearray(sealed(veil_records))
    at = data.index(b"Patient consent signed in Veil")   # the seal's stated reason, inside the signed bytes
    data[at] = ord("Q")
    path = write(tmp_path, "changed.pdf", bytes(data))
    assert check_pdf(path).signature_valid is False
    assert "Digest Mismatch" in subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout


def test_a_box_ticked_after_sealing_breaks_the_seal(tmp_path, veil_records):
    writer = PdfWriter(io.BytesIO(sealed(veil_records, answers=declined())), incremental=True)
    writer.update_page_form_field_values(writer.pages[0], {"social_media": "/Yes"}, auto_regenerate=False)
    out = io.BytesIO()
    writer.write(out)
    result = check_pdf(write(tmp_path, "ticked-later.pdf", out.getvalue()))
    assert result.signature_valid is False


# -- the certificates ------------------------------------------------------------------------------------------
def test_the_installation_certificate_is_made_once_and_its_key_kept_encrypted(veil_records):
    first = sealing_identity(veil_records, SYSTEM)
    second = sealing_identity(veil_records, SYSTEM)
    assert first.source == "installation" and first.certificate.dump() == second.certificate.dump()
    assert trust_roots(veil_records) == [first.certificate.dump()]
    with veil_records.db.reading() as session:
        row = session.get(Installation, 1)
        made = [e for e in audit.events(session) if e["action"] == "installation.signing_certificate_created"]
    key_der = first.signer.signing_key.dump()
    assert key_der not in bytes(row.signing_key_enc) and b"PRIVATE" not in bytes(row.signing_key_enc)
    assert len(made) == 1


def test_the_clinics_own_certificate_is_used_when_configured(tmp_path):
    clinic = self_signed_identity("Example Clinic Seal")
    key = serialization.load_der_private_key(clinic.key_der, None)
    from cryptography import x509
    cert = x509.load_der_x509_certificate(clinic.cert_der)
    p12 = tmp_path / "clinic.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"clinic", key, cert, None, serialization.BestAvailableEncryption(b"correct passphrase")))
    opened = sv.open_records(make_settings(tmp_path, signing_p12=p12, signing_p12_passphrase="correct passphrase"))
    try:
        identity = sealing_identity(opened, SYSTEM)
        assert identity.source == "clinic" and "Example Clinic Seal" in identity.subject
        result = check_pdf(write(tmp_path, "c.pdf", seal(unsealed_form(), identity)), trust_roots=trust_roots(opened))
        assert result.signature_valid is True and result.signer_trusted is True
        with opened.db.reading() as session:   # no installation certificate was made meanwhile
            assert session.scalar(select(Installation.signing_cert)) is None
    finally:
        opened.close()
    wrong = make_settings(tmp_path, signing_p12=p12, signing_p12_passphrase="wrong passphrase")
    with pytest.raises(SigningError, match="VEIL_SIGNING_P12") as refused:
        sealing_identity(type("R", (), {"settings": wrong})(), SYSTEM)
    assert "wrong passphrase" not in str(refused.value)


# -- the service: signed in Veil, registered like an upload ------------------------------------------------------
def sign_in_veil(veil, answers: dict = ANSWERS, drawn: Signature | None = None, version_id: str = "en-1"):
    return sv.sign_consent_in_veil(veil.records, veil.staff, version_id=version_id, patient_name=PATIENT[0],
                                   patient_ref=PATIENT[1], answers=answers, signature=drawn or signature())


def test_a_consent_signed_in_veil_is_registered_covered_with_its_form_version(veil):
    view = sign_in_veil(veil)
    version = current_version("en")
    assert (view.social_media, view.platforms, view.identifiable, view.expires, view.signed, view.signature_valid) \
        == ("covered", ["instagram", "facebook"], "allowed", "2030-06-30", True, True)
    assert (view.form_version, view.form_sha256) == (version.id, version.sha256)
    details = sv.consent_details(veil.records, veil.marketing, view.id)
    assert details["analysis"]["signer_trusted"] is True and details["patient_ref"] == PATIENT[1]
    pdf = sv.view_consent_pdf(veil.records, veil.marketing, view.id)
    assert form_properties(pdf)["form_sha256"] == version.sha256
    [event] = sv.audit_events(veil.records, veil.admin, action="consent.registered")
    facts = event["details"]["signed_in_veil"]
    assert (facts["form_version"], facts["form_sha256"], facts["witness"]) == (version.id, version.sha256, "sam")
    assert facts["document_id"] == form_properties(pdf)["document_id"]


def test_an_empty_signature_is_refused_and_nothing_is_stored(veil):
    with pytest.raises(sv.WorkflowError, match="signature pad is empty.*nothing was stored"):
        sign_in_veil(veil, drawn=Signature.of([], *PAD))
    with pytest.raises(sv.WorkflowError, match="too small"):
        sign_in_veil(veil, drawn=signature(0.1))
    assert sv.list_consents(veil.records, veil.admin) == []
    assert not [p for p in veil.records.settings.blob_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_an_unknown_form_version_or_role_is_refused(veil):
    with pytest.raises(sv.WorkflowError, match="en-0"):
        sign_in_veil(veil, version_id="en-0")
    with pytest.raises(sv.PermissionDenied):
        sv.sign_consent_in_veil(veil.records, veil.auditor, version_id="en-1", patient_name=PATIENT[0],
                                patient_ref=PATIENT[1], answers=ANSWERS, signature=signature())


def test_the_patients_copy_is_audited_as_offered(veil):
    view = sign_in_veil(veil)
    copy = sv.view_consent_pdf(veil.records, veil.staff, view.id, patient_copy="print")
    assert check_signatures(copy, trust_roots(veil.records))[0].intact
    [offered] = sv.audit_events(veil.records, veil.admin, action="consent.copy_offered")
    assert offered["subject_id"] == view.id and offered["details"]["channel"] == "print"
    with pytest.raises(sv.WorkflowError, match="download or print"):
        sv.view_consent_pdf(veil.records, veil.staff, view.id, patient_copy="email")


def test_an_uploaded_copy_of_a_consent_sealed_here_is_trusted(veil):
    sign_in_veil(veil)   # makes the installation certificate
    uploaded = sv.register_consent(veil.records, veil.staff, sealed(veil.records), *PATIENT)
    assert uploaded.form_version is None   # an upload: no form version is claimed for it
    assert sv.consent_details(veil.records, veil.marketing, uploaded.id)["analysis"]["signer_trusted"] is True
