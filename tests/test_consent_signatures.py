"""Signature fields: signed or not, and whether each digital signature is still intact, checked
offline with pyHanko; signer trust is reported on its own."""
from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.generic import NameObject, StreamObject

from consent.check import check_pdf
from consent.signatures import load_trust_roots
from consent_fixtures import acroform_pdf, self_signed_identity, sign, text_pdf, write


@pytest.fixture(scope="module")
def identity():
    return self_signed_identity()


@pytest.fixture(scope="module")
def two_signature_form() -> bytes:
    return acroform_pdf("Photo consent", [
        {"kind": "text", "text": "I authorize the clinic to post my photographs on Instagram."},
        {"kind": "signature", "name": "patient", "label": "Signature of the patient:"},
        {"kind": "signature", "name": "witness", "label": "Signature of the witness:"},
    ])


def test_empty_signature_fields_mean_not_signed(tmp_path, two_signature_form):
    result = check_pdf(write(tmp_path, "unsigned.pdf", two_signature_form))
    assert result.signed is False
    assert result.signature_valid is None
    assert [(f["name"], f["signed"]) for f in result.signature_fields] == [("patient", False), ("witness", False)]


def test_one_of_two_fields_signed_is_still_not_signed(tmp_path, two_signature_form, identity):
    result = check_pdf(write(tmp_path, "half.pdf", sign(two_signature_form, identity, "patient")))
    assert result.signed is False
    assert result.signature_valid is True


def test_every_field_signed_with_intact_signatures_is_signed_and_valid(tmp_path, two_signature_form, identity):
    data = sign(sign(two_signature_form, identity, "patient"), identity, "witness")
    result = check_pdf(write(tmp_path, "both.pdf", data))
    assert result.signed is True
    assert result.signature_valid is True
    assert result.signature_covers_whole_file is True
    assert [s["intact"] for s in result.signatures] == [True, True]
    assert result.signatures[0]["modifications"] == "form_filling"  # the second signature followed it


def test_signer_trust_is_separate_from_integrity(tmp_path, identity):
    path = write(tmp_path, "signed.pdf", sign(text_pdf("I authorize posting on Instagram."), identity))
    untrusted = check_pdf(path)
    trusted = check_pdf(path, trust_roots=[identity.cert_der])
    assert untrusted.signature_valid is True and untrusted.signer_trusted is False
    assert trusted.signature_valid is True and trusted.signer_trusted is True


def test_trust_roots_are_certificates_parsed_whole_and_kept_as_der(identity):
    assert load_trust_roots(identity.cert_pem) == load_trust_roots(identity.cert_der) == [identity.cert_der]
    damaged = identity.cert_der[:60] + bytes(len(identity.cert_der) - 60)   # the right length, zeros inside
    with pytest.raises(ValueError, match="damaged"):
        load_trust_roots(damaged)


def test_bytes_appended_after_signing_break_validity(tmp_path, identity):
    signed = sign(text_pdf("I authorize posting on Instagram."), identity)
    result = check_pdf(write(tmp_path, "appended.pdf", signed + b"\n% added after signing\n"))
    assert result.signed is True
    assert result.signature_valid is False
    assert result.signature_covers_whole_file is False


def test_a_signed_file_altered_after_signing_is_not_valid(tmp_path, identity):
    signed = sign(text_pdf("I do not authorize posting on Instagram."), identity)
    # An incremental update that rewrites the page's content after the signature.
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    stream = StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (I authorize posting on Instagram.) Tj ET")
    page[NameObject("/Contents")] = writer.add_object(stream)
    writer.update_container(page)
    altered = io.BytesIO()
    writer.write(altered)
    result = check_pdf(write(tmp_path, "altered.pdf", altered.getvalue()))
    assert result.signature_valid is False
    assert result.signatures[0]["modifications"] == "other"


def test_a_byte_changed_inside_the_signed_range_is_not_intact(tmp_path, identity):
    signed = bytearray(sign(text_pdf("I authorize posting on Instagram."), identity))
    signed[signed.index(b"\n%", 5) + 2] ^= 0x01  # in the binary-marker comment: still parses, no longer matches
    result = check_pdf(write(tmp_path, "flipped.pdf", bytes(signed)))
    assert result.signature_valid is False
    assert result.signatures[0]["intact"] is False


def test_a_typed_signature_line_counts_as_signed_and_a_blank_one_does_not(tmp_path):
    typed = check_pdf(write(tmp_path, "typed.pdf", text_pdf("I agree.\nSignature: /s/ Pat Example Date: 2025-03-01")))
    blank = check_pdf(write(tmp_path, "blank.pdf", text_pdf("I agree.\nSignature: ________________ Date: ______")))
    none = check_pdf(write(tmp_path, "none.pdf", text_pdf("I agree.")))
    assert typed.signed is True
    assert blank.signed is False
    assert none.signed is None  # no signature place at all: a person decides
