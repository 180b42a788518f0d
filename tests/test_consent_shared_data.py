"""The real third-party PDFs in ../shared/data/pdfs (skipped where that folder is absent):
no real form is covered, signature fields get the right answer, scans are read by OCR."""
from __future__ import annotations

from pathlib import Path

import pytest

from consent.check import check_pdf

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pdfs"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/pdfs is not present")

UNSIGNED = ["minimal-with-field.pdf", "minimal-two-fields.pdf", "minimal-with-simple-form.pdf"]
VALIDLY_SIGNED = ["pdf-sig-with-econtent.pdf", "certified-with-indirect-refs-in-dir.pdf",
                  "minimal-two-fields-signed-twice.pdf", "minimal-signed-twice-both-created.pdf",
                  "pades-lta-dss-indirect-arrs-test.pdf", "sig-with-ski-sid.pdf"]


def _files(folder: str) -> list[Path]:
    return sorted((DATA / folder).glob("*.pdf")) if DATA.is_dir() else []


@pytest.mark.parametrize("path", _files("consent-forms") + _files("signature-fields"), ids=lambda p: p.name)
def test_no_real_form_is_judged_covered(path):
    result = check_pdf(path, use_ocr=False)
    assert result.error is None
    assert result.social_media != "covered"


def test_the_unticked_social_media_option_is_found_and_not_covered():
    result = check_pdf(DATA / "consent-forms" / "medley__photo-media-release-form.pdf")
    assert result.social_media == "not_covered"
    assert any(e["about"] == "option_not_ticked" and "Social media" in e["text"] for e in result.evidence)


@pytest.mark.parametrize("name", UNSIGNED)
def test_unsigned_signature_fields_are_not_signed(name):
    result = check_pdf(DATA / "signature-fields" / name)
    assert result.signed is False and result.signature_valid is None


@pytest.mark.parametrize("name", VALIDLY_SIGNED)
def test_validly_signed_files_are_signed_and_intact(name):
    result = check_pdf(DATA / "signature-fields" / name)
    assert result.signed is True and result.signature_valid is True


def test_bytes_after_signing_are_flagged():
    result = check_pdf(DATA / "signature-fields" / "coverage-anomalies_tail-uncovered.pdf")
    assert result.signed is True
    assert result.signature_valid is False
    assert result.signature_covers_whole_file is False


@pytest.mark.parametrize("path", _files("scanned"), ids=lambda p: p.name)
def test_every_scan_is_read_through_ocr(path):
    result = check_pdf(path)
    assert result.error is None
    assert result.text_source == "ocr"
    assert result.social_media != "covered"
